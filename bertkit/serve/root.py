"""``POST /`` (and SageMaker's ``POST /invocations``): text-embeddings-inference's root route.

TEI serves one model and answers its root route with that model's task: ``/embed`` for an
embedding model, ``/predict`` for a classifier, ``/rerank`` for a reranker. So do
``huggingface_hub.InferenceClient(base_url)``'s task methods, which all post to the base
URL. A bertkit server may hold several models, so the body decides where several fit:

1. ``{"query", "texts"}`` -> ``/rerank`` (when that route is served), as TEI matches it first;
2. only one of the embedding model and the classifier is loaded -> its route (the tagger
   alone -> ``/tag``);
3. both: a classification body (``parameters``, as huggingface_hub's ``text_classification``
   sends, or ``raw_scores``/``top_k``/``explain``) -> ``/predict``, anything else -> ``/embed``.

huggingface_hub sends ``{"inputs", "parameters": {"top_k", "function_to_apply"}}`` and reads
a single text's scores as a list of lists (the Inference API's shape): the body is rewritten
to bertkit's fields and a single text to a batch of one, so the client gets every label.
"""

from __future__ import annotations

__all__ = ["ROOT_PATHS", "RootError", "dispatch"]

ROOT_PATHS = ("/", "/invocations")
_PREDICT_KEYS = ("parameters", "raw_scores", "top_k", "explain")
_FUNCTIONS = ("softmax", "none")


class RootError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _hf_parameters(body: dict) -> dict:
    """huggingface_hub's text-classification ``parameters`` as /predict fields."""
    params = body.get("parameters")
    if not isinstance(params, dict):
        raise RootError(422, "parameters: expected an object")
    out = {k: v for k, v in body.items() if k != "parameters"}
    if "top_k" in params and "top_k" not in out:
        out["top_k"] = params["top_k"]
    function = params.get("function_to_apply")
    if function is not None and function not in _FUNCTIONS:
        raise RootError(422, f"parameters.function_to_apply {function!r} is not available; valid options: {', '.join(_FUNCTIONS)} "
                             "(none: log-probabilities)")
    if function == "none":
        out["raw_scores"] = True
    if isinstance(out.get("inputs"), str):
        out["inputs"] = [out["inputs"]]  # the Inference API answers a text with a list of lists
    return out


def dispatch(body, loaded: list[str], routes: frozenset[str]) -> tuple[str, object]:
    """(the route that answers this root request, the body to give it)."""
    if not isinstance(body, dict):
        raise RootError(422, "the request body must be a JSON object (Content-Type: application/json)")
    if "query" in body and "texts" in body:
        if "/rerank" in routes:
            return "/rerank", body
        raise RootError(404, "no reranker is served here; POST / takes {\"inputs\"} for /embed or /predict")
    embed, classify = "embed" in loaded, "classify" in loaded
    if classify and (not embed or any(k in body for k in _PREDICT_KEYS)):
        return "/predict", (_hf_parameters(body) if "parameters" in body else body)
    if embed:
        return "/embed", body
    if "tag" in loaded:
        return "/tag", body
    names = ", ".join(loaded) or "none"
    raise RootError(404, f"POST / answers with the embedding model or the classifier, and neither is loaded (loaded: {names}); "
                         "use the model's own route (see /docs)")
