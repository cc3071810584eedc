"""Request bodies (strictly typed: a wrong type is a 422) and documented response shapes.

Field names follow text-embeddings-inference (``inputs``, ``normalize``, ``truncate``,
``raw_scores``) and OpenAI (``input``, ``encoding_format``) so their clients work
unchanged. Unknown fields are ignored, as those servers do.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FiniteFloat", "Texts",
    "EmbedRequest", "EmbedAllRequest", "SimilarityRequest", "TokenizeRequest", "OpenAIEmbeddingsRequest", "PredictRequest", "AnswerRequest",
    "TagRequest", "Score", "Entity", "Candidate", "Answer", "TokenInfo", "OpenAIEmbeddingsResponse", "ErrorResponse", "Health", "Info",
]

Texts = Union[str, list[str]]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]  # every float field of a request: NaN/Infinity are a 422


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)  # no NaN/Infinity in any float field


class EmbedRequest(_Request):
    inputs: Texts = Field(description="A text or a list of texts.")
    normalize: bool = Field(True, description="L2-normalise each vector.")
    truncate: bool = Field(False, description="true: cut texts to the model's maximum length; false: embed long texts in overlapping windows pooled back into one vector.")


class EmbedAllRequest(_Request):
    inputs: Texts
    truncate: bool = Field(False, description="false: long texts are encoded window by window and their token vectors concatenated.")


class TokenizeRequest(_Request):
    inputs: Texts
    add_special_tokens: bool = True


class SimilarityInputs(_Request):
    source_sentence: str
    sentences: list[str]


class SimilarityRequest(_Request):
    inputs: SimilarityInputs = Field(description="A source sentence and the sentences to compare it with.")
    pooling: Optional[str] = Field(None, description="cls, mean, max, min or mean_sqrt_len (default: the served pooling).")


class OpenAIEmbeddingsRequest(_Request):
    input: Texts = Field(description="A text or a list of texts (token arrays are not accepted).")
    model: Optional[str] = Field(None, description="Ignored: the server's embedding model answers.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Optional[int] = Field(None, description="Must be the model's dimension when given.")
    user: Optional[str] = None


class PredictRequest(_Request):
    inputs: Union[str, list[str], list[list[str]]] = Field(
        description="A text, a list of texts, or [text, pair] lists for a pair model (a two-text list is one pair for a pair model)."
    )
    raw_scores: bool = Field(False, description="Log-probabilities (the logits up to a constant) instead of probabilities.")
    top_k: Optional[int] = Field(None, ge=1, description="Best k labels per input (default: every label), best first.")
    explain: bool = Field(False, description="Also return a weight per token: the attention-pooling weight (models with attention pooling) or, for other models, how much the label's log-odds drop without the token ('method': occlusion).")
    truncate: bool = Field(True, description="Accepted for compatibility; classifier inputs are always cut to the model's length.")


class AnswerRequest(_Request):
    question: Texts
    context: Texts
    top_k: int = Field(1, ge=1, le=20, description="Candidates returned per question, best first.")
    null_threshold: Optional[FiniteFloat] = Field(None, description="'No answer' when null score - best span score exceeds this (default: the model's).")
    token_probabilities: bool = Field(False, description="Also return the start/end probability of every context token.")


class TagRequest(_Request):
    inputs: Union[str, list[str], list[list[str]]] = Field(
        description="A text, a list of texts, or a list of pre-split word lists (entity offsets then index the words joined by single spaces)."
    )


class Score(BaseModel):
    label: str
    score: float


class Candidate(BaseModel):
    text: str
    start: int
    end: int
    score: float
    probability: float


class Answer(BaseModel):
    text: Optional[str] = Field(description="None when the model says the context holds no answer.")
    start: int = Field(description="Character offset into the context (-1 for no answer).")
    end: int
    score: float
    probability: float
    no_answer: bool
    candidates: list[Candidate]


class Entity(BaseModel):
    type: str
    text: str
    start: int = Field(description="Character offset into the input text (end exclusive).")
    end: int
    score: float = Field(description="Mean probability of the entity's tags (CRF heads: marginals).")


class TokenInfo(BaseModel):
    id: int
    text: str
    special: bool
    start: Optional[int]
    stop: Optional[int]


class _EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: Union[list[float], str]


class _Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[_EmbeddingItem]
    model: str
    usage: _Usage


class ErrorResponse(BaseModel):
    error: str
    error_type: str


class Health(BaseModel):
    status: str


class Info(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: str
    models: dict
    limits: dict
