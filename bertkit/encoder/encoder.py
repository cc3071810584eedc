"""The Encoder: a tokenizer and a BERT-family model, with batching, devices and dtypes.

It turns texts (or text pairs) into token windows, pads them in length-sorted batches,
and runs the model. Higher layers (embeddings, classification, QA) build on it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from bertkit.encoder.batching import encoding_features, length_sorted_batches, pad_batch
from bertkit.encoder.forward import EncoderOutput, run_encoder
from bertkit.encoder.loading import load_model, load_tokenizer
from bertkit.errors import BertkitWarning, UsageError, choice_error
from bertkit.io.texts import check_texts

__all__ = ["DTYPES", "EncoderOutput", "Windows", "Encoder", "cpu_has_native_bf16", "has_token_types", "resolve_device"]

DTYPES = ("fp32", "bf16", "fp16")


def cpu_has_native_bf16() -> bool:
    """True when oneDNN has fast bf16 kernels on this CPU (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - older torch builds
        return False


def has_token_types(config) -> bool:
    """Whether the model has a token-type table (BERT, ELECTRA, ALBERT: yes; DistilBERT, ModernBERT
    and DeBERTa-v2 with ``type_vocab_size`` 0: no, and their ``token_type_ids`` are not fed)."""
    return int(getattr(config, "type_vocab_size", 0) or 0) > 0


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UsageError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    return dev


@dataclass
class Windows:
    """Tokenized inputs: one or more windows per text (more only for long texts)."""

    features: list[dict[str, list]]  # per window: input_ids, attention_mask, [token_type_ids], ...
    sample: list[int]  # window -> index of its text
    num_texts: int
    truncated: int = 0  # texts that were cut (truncate mode) or split (window mode)
    word_ids: list[list[int | None]] = field(default_factory=list)  # per window, when requested
    sequence_ids: list[list[int | None]] = field(default_factory=list)  # per window: 0 first text, 1 pair, None special

    @property
    def lengths(self) -> list[int]:
        return [len(f["input_ids"]) for f in self.features]


class Encoder:
    """A tokenizer and an encoder model, ready for batched inference or training.

    ``model`` is a local Hugging Face directory; ``None`` loads the packaged
    all-MiniLM-L6-v2. ``dtype`` "bf16"/"fp16" runs the forward pass under autocast.
    ``task`` ("classifier", "qa", "tagger") loads a transformers task checkpoint whole:
    ``task_model`` is the model with its head, ``model`` its bare encoder.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        device: str = "auto",
        dtype: str = "fp32",
        max_length: int | None = None,
        lazy: bool = False,
        task: str | None = None,
    ) -> None:
        if dtype not in DTYPES:
            raise choice_error("dtype", dtype, DTYPES)
        self.device = resolve_device(device)
        if dtype == "fp16" and self.device.type != "cuda":
            raise UsageError("dtype 'fp16' needs a CUDA device; on CPU use bf16 or fp32")
        if dtype == "bf16" and self.device.type == "cpu" and not cpu_has_native_bf16():
            warnings.warn(
                "this CPU has no native bf16 (no AVX512-BF16 or AMX): bf16 runs far slower than fp32 here; "
                "use fp32, or --backend onnx for speed",
                BertkitWarning,
                stacklevel=2,
            )
        self._lock = threading.Lock()  # guards the lazy model and the transformers tokenizer call
        self._truncating = None  # a private copy of the Rust tokenizer, set up to truncate
        self._counting = None  # and one that never truncates (count_tokens)
        self._cutter = None  # cuts long texts by characters before truncating (textcut.py)
        self.task = task  # a transformers task checkpoint loaded whole (bertkit.encoder.taskheads)
        self.task_model = None  # then: the whole task model; ``model`` is its bare encoder
        if lazy and task is None:  # config and tokenizer now, the weights on first use of .model
            meta = load_tokenizer(model)
            self._model = None
            self._config = meta.config
        else:
            meta = load_model(model, task)
            if meta.task_model is not None:
                self.task_model = meta.task_model.to(self.device)
            self._model = meta.model.to(self.device)
            self._config = meta.model.config
        self.path = meta.path
        self.tokenizer = meta.tokenizer
        self.has_pooler = meta.has_pooler
        self.model_max_length = meta.max_length
        self.dtype = dtype
        self.max_length = self._check_max_length(max_length)
        self.input_keys = [
            k for k in ("input_ids", "token_type_ids", "attention_mask") if k in self.tokenizer.model_input_names
            and (k != "token_type_ids" or has_token_types(self._config))
        ]
        if "attention_mask" not in self.input_keys:
            self.input_keys.append("attention_mask")

    # -- facts about the model -------------------------------------------------------
    @property
    def model(self):
        """The torch encoder; loaded on first use when the Encoder was made ``lazy`` or released."""
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    self._model = load_model(self.path, self.task).model.to(self.device).eval()
                model = self._model
        return model

    @model.setter
    def model(self, value) -> None:
        self._model = value
        self._config = value.config

    @property
    def config(self):
        return self._config

    @property
    def hidden_size(self) -> int:
        return int(getattr(self.config, "hidden_size", None) or getattr(self.config, "dim"))

    @property
    def num_layers(self) -> int:
        return int(getattr(self.config, "num_hidden_layers", None) or getattr(self.config, "n_layers"))

    def _check_max_length(self, max_length: int | None) -> int:
        if max_length is None:
            return self.model_max_length
        limit = self.model_max_length if self.model_max_length > 0 else 512
        positions = getattr(self.config, "max_position_embeddings", limit)
        if not 2 < int(max_length) <= max(limit, positions):
            raise UsageError(f"max_length {max_length} out of range; this model takes 3..{max(limit, positions)} tokens")
        return int(max_length)

    # -- tokenizing and batching -----------------------------------------------------
    def tokenize(
        self,
        texts: Sequence[str],
        pairs: Sequence[str] | None = None,
        *,
        windows: bool = False,
        stride: int | None = None,
        word_ids: bool = False,
        offsets: bool = False,
        sequence_ids: bool = False,
        truncation: str | None = None,
    ) -> Windows:
        """Tokenize to windows of at most ``max_length`` tokens.

        ``windows=False`` truncates (one window per text, ``truncated`` counts the cut
        ones); ``windows=True`` splits long texts into windows overlapping by ``stride``
        tokens (default a quarter of ``max_length``). ``truncation`` overrides the
        tokenizer strategy (default ``only_second`` for pairs, which fails when the first
        text alone is too long; classification passes ``longest_first``).
        """
        texts = check_texts(texts)  # a lone surrogate: one InputError naming the row, not the tokenizer's TypeError
        if pairs is not None:
            pairs = check_texts(pairs, what="second text")
        elif not windows:
            texts = self._cut(texts)  # a 50 MB line: only a prefix is tokenised, with the same tokens
        if not texts:  # nothing to tokenize (transformers' batch call fails on an empty batch)
            return Windows([], [], 0)
        if stride is None:
            stride = self.max_length // 4
        if pairs is None and not (windows or word_ids or offsets or sequence_ids or truncation):
            fast = self._encode_truncated(texts)
            if fast is not None:
                return fast
        kwargs = dict(
            truncation=truncation or ("only_second" if pairs is not None else True),
            max_length=self.max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=offsets,
            return_token_type_ids="token_type_ids" in self.input_keys,
        )
        enc = self.encode(texts, list(pairs), **kwargs) if pairs is not None else self.encode(texts, **kwargs)
        mapping = list(enc["overflow_to_sample_mapping"])
        keep: list[int] = []
        seen: set[int] = set()
        truncated: set[int] = set()
        for k, s in enumerate(mapping):
            if s in seen:
                truncated.add(s)
                if not windows:
                    continue
            seen.add(s)
            keep.append(k)
        keys = [k for k in enc.keys() if k != "overflow_to_sample_mapping"]
        feats = [{key: enc[key][k] for key in keys} for k in keep]
        wids = [enc.word_ids(k) for k in keep] if word_ids else []
        sids = [enc.sequence_ids(k) for k in keep] if sequence_ids else []
        return Windows(feats, [mapping[k] for k in keep], len(texts), len(truncated), wids, sids)

    def _cut(self, texts: list[str]) -> list[str]:
        """Long texts cut by characters where that keeps their truncated tokens (see textcut.py)."""
        cutter = self._cutter
        if cutter is None or cutter.max_length != self.max_length:
            backend = getattr(self.tokenizer, "_tokenizer", None)
            if backend is None or getattr(self.tokenizer, "truncation_side", "right") != "right":
                return texts
            from bertkit.encoder.textcut import PrefixCutter

            with self._lock:  # the shared tokenizer is read while no transformers call changes it
                cutter = self._cutter = PrefixCutter(backend, self.max_length)
        return cutter.cut(texts)

    def _encode_truncated(self, texts: list[str]) -> Windows | None:
        """The common case (single texts, truncated) straight through the Rust tokenizer.

        Same encodings as the ``tokenizer(...)`` call (the tests check it), without
        transformers' per-text conversion to Python dicts, which costs as much as the
        tokenization itself on short texts. None when the tokenizer is not a fast one.
        """
        backend = self._truncating_tokenizer()
        if backend is None:
            return None
        feats, truncated = encoding_features(backend.encode_batch(texts, add_special_tokens=True), self.input_keys)
        return Windows(feats, list(range(len(texts))), len(texts), truncated)

    def encode(self, *args, **kwargs):
        """``self.tokenizer(*args, **kwargs)`` under the encoder's lock.

        transformers re-configures the shared Rust tokenizer (truncation, padding) on every
        call, so concurrent calls with different settings must not interleave.
        """
        with self._lock:
            return self.tokenizer(*args, **kwargs)

    def _truncating_tokenizer(self):
        """A private copy of the Rust tokenizer that truncates to ``max_length`` and never pads.

        Made once (under the lock); the shared tokenizer is never re-configured, so calls
        from many threads at once see the same settings. None for a slow tokenizer.
        """
        if self._truncating is None:
            backend = getattr(self.tokenizer, "_tokenizer", None)
            if backend is None or not hasattr(backend, "encode_batch"):
                return None
            from tokenizers import Tokenizer

            with self._lock:
                if self._truncating is None:
                    copy = Tokenizer.from_str(backend.to_str())
                    copy.no_padding()
                    copy.enable_truncation(
                        self.max_length, stride=0, strategy="longest_first",
                        direction=getattr(self.tokenizer, "truncation_side", "right"),
                    )
                    self._truncating = copy
        return self._truncating

    def tokenizer_settings(self) -> dict | None:
        """How :meth:`tokenize` reads single texts in truncate mode, enough to repeat it with the
        ``tokenizers`` library alone (the warm fast path): the serialised truncating Rust
        tokenizer, the input keys, max length, padding id and whether long texts are cut
        by characters first. None for a slow tokenizer."""
        backend = self._truncating_tokenizer()
        if backend is None:
            return None
        return {
            "tokenizer": backend.to_str(), "input_keys": list(self.input_keys), "max_length": int(self.max_length),
            "pad_token_id": int(self.tokenizer.pad_token_id or 0),
            "cut_prefixes": getattr(self.tokenizer, "truncation_side", "right") == "right",
        }

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text (special tokens included) before any truncation."""
        texts = check_texts(texts)
        backend = getattr(self.tokenizer, "_tokenizer", None)
        if backend is not None and hasattr(backend, "encode_batch"):
            counter = self._counting
            if counter is None:
                from tokenizers import Tokenizer

                with self._lock:  # the shared tokenizer is read while no transformers call changes it
                    counter = Tokenizer.from_str(backend.to_str())
                counter.no_padding()
                counter.no_truncation()
                self._counting = counter  # a racing thread builds an equal copy: harmless
            return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=True)]
        return [len(ids) for ids in self.encode(list(texts), truncation=False)["input_ids"]]

    def batches(
        self, windows: Windows, batch_size: int, max_tokens: int | None = None
    ) -> Iterator[tuple[list[int], dict[str, Tensor]]]:
        """(window indices, padded tensors on the device) in length-sorted order."""
        # bf16 on a CPU: oneDNN sets up kernels per input shape (seconds over a run of varied
        # lengths), so lengths are padded up to a multiple of 16 (padding never changes a result)
        multiple = 16 if self.dtype == "bf16" and self.device.type == "cpu" else 1
        for idx in length_sorted_batches(windows.lengths, batch_size, max_tokens):
            batch = pad_batch([windows.features[i] for i in idx], self.tokenizer.pad_token_id or 0, self.input_keys, multiple, self.max_length)
            yield idx, {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    # -- the torch weights -----------------------------------------------------------
    @property
    def weights_loaded(self) -> bool:
        return self._model is not None

    def release_weights(self) -> None:
        """Free the torch weights: an ONNX backend runs without them (peak RSS drops by the
        model's size). They are reloaded from ``path`` on the next use of ``.model``, so only
        an encoder loaded unchanged from its directory may release them."""
        self._model = None

    # -- running the model -----------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast for bf16/fp16, a no-op for fp32."""
        if self.dtype == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.dtype == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def forward(self, batch: dict[str, Tensor], *, hidden_states: bool = False) -> EncoderOutput:
        """Run the encoder on a padded batch (no grad handling: callers choose)."""
        inputs = {k: v for k, v in batch.items() if k in self.input_keys}
        with self.autocast():
            return run_encoder(self.model, inputs, hidden_states=hidden_states, pooler=self.has_pooler)
