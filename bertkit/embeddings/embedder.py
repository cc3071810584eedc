"""The Embedder: texts in, one vector per text (or per word) out, in input order."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import numpy as np
import torch

from bertkit.encoder.encoder import Encoder
from bertkit.encoder.loading import resolve_model_dir
from bertkit.embeddings.engine import build_backend
from bertkit.engine.loader import load_on_runtime, resolve_source
from bertkit.engine.runtime import Runtime, resolve_runtime
from bertkit.embeddings.layers import LayerSelection, parse_layers
from bertkit.embeddings.names import LONG_MODES
from bertkit.embeddings.pooling import Pooling, build_pooling, split_pooling_spec
from bertkit.embeddings.st_format import NORMALIZE, STPipeline, apply_steps, describe_steps, is_st_dir, read_st_pipeline, tokenizer_lowercases
from bertkit.embeddings.windows import combine_windows, pool_pieces_to_words
from bertkit.engine.backends import ONNX_ON_GPU
from bertkit.engine.predictor import EvalReport
from bertkit.embeddings.similarity import Embedding, check_scored_pairs, cosine_rows, spearman
from bertkit.embeddings.warm import EmbedStats, record_embedder, warm_request  # torch-free: the warm start's half
from bertkit.errors import BertkitError, ModelLoadError, ParameterError, UsageError, choice_error
from bertkit.io.progress import progress_bar
from bertkit.io.texts import check_texts

__all__ = ["LONG_MODES", "EmbedStats", "WordVectors", "Embedder", "embed"]


@dataclass
class WordVectors:
    text: str
    words: list[str]
    vectors: np.ndarray  # (n_words, H)


class Embedder:
    """Encoder + layer selection + pooling (+ Dense, Normalize). Reuse one object for repeated calls.

    >>> emb = Embedder(pooling="mean", normalize=True)      # backend/dtype/device "auto"
    >>> vectors = emb.embed(["a sentence", "another one"])  # (2, 384) float32
    >>> emb.runtime.backend, emb.runtime.dtype               # what runs, and .reason says why
    ('torch', 'bf16')

    Without ``pooling``, a sentence-transformers directory (``modules.json``) is embedded
    as its modules say: its pooling, Dense layers and Normalize, so the vectors are
    ``SentenceTransformer(DIR).encode``'s (the packaged all-MiniLM-L6-v2 is one: mean +
    Normalize); any other directory pools ``mean``. An explicit ``pooling`` replaces the
    directory's pipeline (no Dense; normalised only with ``normalize=True``); ``normalize``
    True/False adds or drops the final normalisation either way. ``.source`` says which.

    Thread-safe: many threads may call one Embedder at once and get the serial results.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        pooling: str | None = None,
        layers: str | int = "-1",
        normalize: bool | None = None,
        batch_size: int = 32,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        long: str = "truncate",
        stride: int | None = None,
        backend: str = "auto",
        dtype: str = "auto",
        device: str = "auto",
        layer_start: int | None = None,
        encoder: Encoder | None = None,
        pooling_module: Pooling | None = None,
        progress: bool = False,
    ) -> None:
        st = _st_pipeline(model, encoder, strict=pooling is None and pooling_module is None)
        from_dir = pooling is None and pooling_module is None
        warm = None if encoder is not None or pooling_module is not None else (  # only a plain load has a warm start
            warm_request(model, pooling=pooling, layers=layers, normalize=normalize, max_length=max_length, layer_start=layer_start),
            (backend, dtype, device))
        if pooling is None:
            pooling = pooling_module.spec if pooling_module is not None else st.pooling if st is not None else "mean"
        self.parts = split_pooling_spec(pooling)
        if long not in LONG_MODES:
            raise choice_error("long-text mode", long, LONG_MODES)
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise UsageError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self._owns_encoder = encoder is None  # its weights may be released behind an ONNX backend
        source = st.encoder_dir if st is not None and encoder is None else model
        self.runtime, self.encoder = _runtime_and_encoder(source, encoder, backend, dtype, device, max_length)
        self.layers: LayerSelection = parse_layers(layers, self.encoder.num_layers)
        if "pooler" in self.parts and not self.layers.last_only:
            raise ParameterError(
                "layers", f"layers {layers!r} do not apply to pooling 'pooler' (the model's pooler reads the last layer's "
                "first token); leave them out, or pool another way (cls, mean, max, ...)", "pooling",
            )
        if pooling_module is None:
            # Untrained learned poolings start neutral (mean, uniform layers) whatever their
            # random parts; a fixed seed makes those parts, and so the ONNX cache key, repeatable.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                pooling_module = build_pooling(pooling, self.encoder.hidden_size, self.encoder.num_layers, layer_start=layer_start)
        self.pooling = pooling_module
        if self.pooling.needs_pooler and not self.encoder.has_pooler:
            raise UsageError(
                f"pooling 'pooler' is not available for {self.encoder.path.name}: the model has no trained pooler; "
                "use cls, mean, max, min, mean_sqrt_len, weighted_layer or attention"
            )
        self.pooling.to(self.encoder.device).eval()
        self.steps, self.source = _steps_and_source(st, from_dir, self.pooling, normalize)
        self.normalize = NORMALIZE in self.steps  # the output vectors have unit length
        self.lowercase = st is not None and st.do_lower_case and not tokenizer_lowercases(self.encoder.tokenizer)
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.long = long
        self.stride = stride
        if long == "window" and stride is not None:
            _check_stride(stride, self.encoder)
        self.backend_name = self.runtime.backend
        self.dtype = self.runtime.dtype
        self.progress = progress
        self.last_stats = EmbedStats()  # of the last finished call (a per-call copy; never shared)
        self._backend = None
        self._backend_lock = threading.Lock()
        self._forced_onnx = backend == "onnx" or dtype == "int8"  # auto's ONNX still gives word vectors (torch)
        self._warm = warm  # what a warm start of the same request looks up (bertkit.embeddings.warm)

    @classmethod
    def load(cls, model: str | os.PathLike | None = None, **options) -> "Embedder":
        """Same as ``Embedder(model, **options)``: the shape every predictor shares."""
        return cls(model, **options)

    TASK: ClassVar[str] = "embeddings"

    def predict_batch(self, inputs: Sequence[str], *, batch_size: int | None = None) -> list[Embedding]:
        """The protocol's batch method (:class:`bertkit.engine.predictor.Predictor`): one typed
        :class:`~bertkit.embeddings.similarity.Embedding` per text (``embed`` gives the (N, D) array)."""
        vectors = self.embed(inputs) if batch_size is None else self._with_batch_size(batch_size).embed(inputs)
        return [Embedding(v) for v in vectors]

    def evaluate(self, data: Sequence, *, batch_size: int | None = None) -> EvalReport:
        """STS-style: Spearman correlation (x100) of the cosine similarity of each ``(text_a,
        text_b, gold_score)`` row with its gold score."""
        first, second, gold = check_scored_pairs(data)
        emb = self if batch_size is None else self._with_batch_size(batch_size)
        cosine = cosine_rows(emb.embed(first), emb.embed(second))
        score = 100 * spearman(cosine, gold)
        return EvalReport({"pairs": len(gold), "spearman_cosine": score}, {"spearman_cosine": score})

    def _with_batch_size(self, batch_size: int) -> "Embedder":
        if batch_size < 1:
            raise ParameterError("batch_size", f"batch_size must be >= 1, got {batch_size}")
        import copy

        other = copy.copy(self)  # shares the encoder and backend; only the batch size differs
        other.batch_size = batch_size
        return other

    @property
    def backend(self):
        """The inference backend, built once on first use (an ONNX export can take seconds)."""
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    self._backend = build_backend(
                        self.encoder, self.layers, self.pooling, backend=self.backend_name, dtype=self.dtype, from_files=self._owns_encoder
                    )
                    self._record_warm_start()
        return self._backend

    def _record_warm_start(self) -> None:
        """After an ONNX backend is built from the model's files: the warm entry a later
        start of the same request runs without torch (:mod:`bertkit.embeddings.warm`)."""
        if self._warm is None or self.backend_name != "onnx" or not self._owns_encoder:
            return
        request, asked = self._warm
        try:
            record_embedder(request, asked, self, self._backend)
        except (OSError, ValueError, BertkitError):  # only an optimisation: the next start runs this full path again
            pass

    @property
    def max_length(self) -> int:
        return self.encoder.max_length

    @property
    def dim(self) -> int:
        dims = [s.out_features for s in self.steps if s != NORMALIZE]
        return dims[-1] if dims else self.pooling.output_dim

    @property
    def needs_hidden_states(self) -> bool:
        return self.pooling.needs_hidden_states or not self.layers.last_only

    def _run(self, windows, desc: str):
        """Yield (window indices, batch, encoder output) over length-sorted batches (torch)."""
        bar = progress_bar(self.progress, total=len(windows.features), desc=desc, counts_as=windows.num_texts)
        with torch.inference_mode():
            for idx, batch in self.encoder.batches(windows, self.batch_size, self.max_batch_tokens):
                out = self.encoder.forward(batch, hidden_states=self.needs_hidden_states)
                yield idx, batch, out
                bar.update(len(idx))
        bar.close()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 vector per text, row i for ``texts[i]``; thread-safe. # -> (N, D)"""
        texts = _check_texts(texts)
        stats = EmbedStats()
        result = self._embed_chunk(texts, self.backend, stats)
        self.last_stats = stats
        return result

    def embed_stream(self, texts: Iterable[str], chunk_size: int = 8192) -> Iterator[tuple[list[str], np.ndarray]]:
        """Embed an iterable of any length chunk by chunk, so memory stays flat.

        Yields (texts, vectors (n, D)) per chunk of ``chunk_size`` texts, in input order;
        each chunk is sorted by length internally. ``last_stats`` accumulates.
        """
        stats = self.last_stats = EmbedStats()
        chunk: list[str] = []
        done = 0  # texts before this chunk: an error names the row in the whole stream
        for text in texts:
            chunk.append(text)
            if len(chunk) >= chunk_size:
                yield chunk, self._embed_chunk(_check_texts(chunk, done), self.backend, stats)
                done += len(chunk)
                chunk = []
        if chunk:
            yield chunk, self._embed_chunk(_check_texts(chunk, done), self.backend, stats)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, special tokens included, before truncation."""
        return self.encoder.count_tokens(self._model_texts(_check_texts(texts)))

    def _model_texts(self, texts: list[str]) -> list[str]:
        """The texts as the model reads them: lower-cased when the directory's ``do_lower_case`` asks."""
        return [t.lower() for t in texts] if self.lowercase else texts

    def check(self, texts: Sequence[str]):
        """Compare this embedder's runtime with torch fp32 on ``texts`` (the ``--check`` gate).

        Returns the :class:`~bertkit.engine.quality.Agreement`; raises UsageError when the
        runtime is int8 and the mean cosine is below ``INT8_MIN_MEAN_COSINE``.
        """
        return self.gate(self.compare(texts))

    def compare(self, texts: Sequence[str]):
        """Agreement (mean and worst cosine) of this runtime's vectors with torch fp32 on ``texts``."""
        from bertkit.embeddings.engine import compare_to_fp32

        return compare_to_fp32(self.encoder, self.layers, self.pooling, self.backend, _check_texts(texts))

    def gate(self, result):
        """The int8 policy on a measured agreement: int8 below the gate is refused."""
        from bertkit.engine.quality import INT8_MIN_MEAN_COSINE

        if self.runtime.dtype == "int8" and result.mean_cosine < INT8_MIN_MEAN_COSINE:
            raise ParameterError(
                "dtype",
                f"int8 refused: mean cosine {result.mean_cosine:.4f} to fp32 on this input is below {INT8_MIN_MEAN_COSINE}; "
                "use dtype fp32 (onnx) or bf16 (torch)",
            )
        return result

    def _embed_chunk(self, texts: list[str], backend, stats: EmbedStats | None = None) -> np.ndarray:
        start = time.perf_counter()
        windows = self.encoder.tokenize(self._model_texts(texts), windows=self.long == "window", stride=self.stride)
        window_vecs = np.zeros((len(windows.features), self.pooling.output_dim), dtype=np.float32)
        # one bar per call, or this chunk's share of the job's one bar (a JobProgress)
        bar = progress_bar(self.progress, total=len(windows.features), desc="embedding", counts_as=len(texts))
        for idx, batch in self.encoder.batches(windows, self.batch_size, self.max_batch_tokens):
            window_vecs[idx] = backend.run(batch)
            bar.update(len(idx), tokens=int(batch["attention_mask"].sum()))
        bar.close()
        result = apply_steps(self.steps, self._combine(windows, window_vecs))  # Dense, Normalize after pooling
        if stats is not None:
            stats.texts += len(texts)
            stats.tokens += int(sum(windows.lengths))
            stats.truncated += windows.truncated
            stats.seconds += time.perf_counter() - start
        return result.astype(np.float32, copy=False)

    def _combine(self, windows, window_vecs: np.ndarray) -> np.ndarray:
        if len(windows.features) == windows.num_texts:
            order = np.empty(windows.num_texts, dtype=np.int64)
            order[np.asarray(windows.sample, dtype=np.int64)] = np.arange(len(windows.sample))  # int even when empty
            return window_vecs[order]
        counts = np.asarray(windows.lengths, dtype=np.float64)
        rules = self.pooling.window_rules()  # (width, rule) per block, as the pooling states
        groups: list[list[int]] = [[] for _ in range(windows.num_texts)]
        for w, s in enumerate(windows.sample):
            groups[s].append(w)
        return np.stack([combine_windows(window_vecs[g], counts[g], rules) for g in groups])

    def embed_words(self, texts: Sequence[str]) -> list[WordVectors]:
        """Word-level vectors: sub-word piece states (of the selected layers) averaged per word."""
        if self._forced_onnx:
            raise UsageError("word vectors need the torch backend; leave backend='onnx' out")
        texts = _check_texts(texts)
        start = time.perf_counter()
        windows = self.encoder.tokenize(
            self._model_texts(texts), windows=self.long == "window", stride=self.stride, word_ids=True, offsets=True
        )
        states: list[np.ndarray | None] = [None] * len(windows.features)
        for idx, batch, out in self._run(windows, "embedding words"):
            tokens = self.layers.select(out.hidden_states) if out.hidden_states is not None else out.last_hidden_state
            tokens = tokens.float().cpu().numpy()
            for row, w in enumerate(idx):
                states[w] = tokens[row, : len(windows.features[w]["input_ids"])]
        groups: list[list[int]] = [[] for _ in range(windows.num_texts)]
        for w, s in enumerate(windows.sample):
            groups[s].append(w)
        result = []
        for i, g in enumerate(groups):
            words, vecs = pool_pieces_to_words(
                [states[w] for w in g],
                [windows.word_ids[w] for w in g],
                [windows.features[w]["offset_mapping"] for w in g],
                texts[i],
            )
            if self.normalize and len(vecs):
                vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            result.append(WordVectors(texts[i], words, vecs))
        self.last_stats = EmbedStats(len(texts), int(sum(windows.lengths)), windows.truncated, time.perf_counter() - start)
        return result


def _check_texts(texts: Sequence[str], start: int = 0) -> list[str]:
    """A list of valid texts (one string is one text); a non-string or a lone surrogate is
    refused naming its row (``start`` + index), see :func:`bertkit.io.texts.check_texts`."""
    return check_texts(texts, start=start)


def _st_pipeline(model, encoder: Encoder | None, *, strict: bool) -> STPipeline | None:
    """The sentence-transformers pipeline of the model's directory, or None for a plain one."""
    if encoder is not None:
        path = encoder.path
    else:
        from bertkit.modeldir import default_model_dir

        path = default_model_dir() if model is None else Path(model).expanduser()
    return read_st_pipeline(path, strict=strict) if path.is_dir() and is_st_dir(path) else None


def _label(path: Path) -> str:
    from bertkit.modeldir import DEFAULT_MODEL_NAME, default_model_dir

    return DEFAULT_MODEL_NAME if path.resolve() == default_model_dir().resolve() else str(path)


def _steps_and_source(st: STPipeline | None, from_dir: bool, pooling: Pooling, normalize: bool | None) -> tuple[tuple, str]:
    """(steps after pooling, one line saying where the pipeline comes from)."""
    if st is not None and from_dir:
        piped = st.require().with_normalize(normalize)
        dense = [s for s in piped.steps if s != NORMALIZE]
        if dense and dense[0].in_features != pooling.output_dim:
            raise ModelLoadError(
                f"{st.directory}: the first Dense takes {dense[0].in_features} features but the pooling "
                f"{pooling.spec} gives {pooling.output_dim}"
            )
        note = "" if normalize is None else f"; normalize={normalize} given"
        return piped.steps, f"{describe_steps(pooling.spec, piped.steps)} (the sentence-transformers modules of {_label(st.directory)}{note})"
    steps = (NORMALIZE,) if normalize else ()
    where = "default" if from_dir else "given"
    if st is not None and st.pooling is not None:
        where += f"; the directory's sentence-transformers pipeline ({describe_steps(st.pooling, st.steps)}) is not used"
    return steps, f"{describe_steps(pooling.spec, steps)} ({where})"


def embed(texts: Sequence[str], model: str | os.PathLike | None = None, **options) -> np.ndarray:
    """Embed ``texts`` in one call: ``bertkit.embed(["hi"], pooling="mean")`` -> (N, D).

    Options are those of :class:`Embedder`. For repeated calls keep an Embedder.
    """
    return Embedder(model, **options).embed(texts)


def _check_stride(stride: int, encoder: Encoder) -> None:
    """Windows must advance: the overlap has to stay below the room a window has for text."""
    room = encoder.max_length - encoder.tokenizer.num_special_tokens_to_add(pair=False)
    if not 0 <= stride < room:
        raise UsageError(
            f"stride {stride} (--stride) must be less than max_length {encoder.max_length} (--max-length) minus "
            f"{encoder.max_length - room} special tokens, i.e. at most {room - 1}"
        )


def _runtime_and_encoder(model, encoder: Encoder | None, backend: str, dtype: str, device: str, max_length: int | None):
    """(Runtime, Encoder): resolve ``auto`` (probing the model the first time) and load it.

    A given ``encoder`` is used as it is: with ``auto`` it runs on torch in its own dtype.
    """
    if encoder is not None:
        if backend == "auto" and dtype == "auto":
            return Runtime("torch", encoder.dtype, str(encoder.device), "the encoder passed in"), encoder
        runtime = resolve_runtime(backend, dtype, str(encoder.device) if device == "auto" else device)
        if runtime.backend == "onnx" and encoder.device.type != "cpu":
            raise UsageError(ONNX_ON_GPU)
        return runtime, encoder
    path = resolve_model_dir(model)

    def build(dev: str, torch_dtype: str, runtime: Runtime | None) -> Encoder:
        # behind ONNX the torch weights are needed only to export (once, then cached)
        lazy = runtime is not None and runtime.backend == "onnx"
        return Encoder(path, device=dev, dtype=torch_dtype, max_length=max_length, lazy=lazy)

    # the one loader (bertkit.engine.loader): auto resolved, the probe's model kept
    return load_on_runtime(resolve_source(path, "embeddings"), backend, dtype, device, build, lambda encoder: [encoder])
