"""What runs a model: ``Runtime`` (backend, dtype, device, why) and the ``auto`` choice.

``backend="auto"``, ``dtype="auto"`` pick the fastest configuration that keeps the
model's outputs (the decision table, first match wins):

==========================================  ====================================
situation                                   runtime
==========================================  ====================================
both given                                  exactly that (``asked``)
dtype int8 (backend auto)                   onnx int8 (int8 only when asked)
dtype fp32 / bf16 / fp16 (backend auto)     torch with that dtype
backend onnx, dtype auto                    onnx fp32
GPU                                         torch bf16 if the probe passes, else fp32
CPU with native bf16 (AVX512-BF16 / AMX)    torch bf16 if the probe passes, else
                                            onnx fp32 (torch fp32 with backend torch)
any other CPU                               onnx fp32 (torch fp32 with backend torch)
==========================================  ====================================

The probe runs the model on a few fixed texts in fp32 and in bf16 autocast: bf16 must
agree (mean cosine of the mean-pooled last layer >= ``AUTO_MIN_COSINE``) and be faster.
Its result is cached on disk under ``$BERTKIT_CACHE/runtime`` (default
``~/.cache/bertkit/runtime``), keyed by the CPU (model name and flags), the device, the
library versions and the model's files, so only the first load pays for it.

``BERTKIT_BACKEND`` / ``BERTKIT_DTYPE`` in the environment stand in for an ``auto``
argument (a fleet-wide default; the test-suite pins torch fp32 this way).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bertkit.errors import UsageError, choice_error

__all__ = [
    "AUTO",
    "AUTO_MIN_COSINE",
    "Runtime",
    "CpuFeatures",
    "Probe",
    "cpu_features",
    "resolve_runtime",
    "model_key",
    "runtime_cache_dir",
    "probe_encoder",
    "check_names",
]

AUTO = "auto"
AUTO_MIN_COSINE = 0.9999
BACKEND_DTYPES = {"torch": ("fp32", "bf16", "fp16"), "onnx": ("fp32", "int8")}
ALL_DTYPES = ("fp32", "bf16", "fp16", "int8")
PROBE_VERSION = 1


@dataclass(frozen=True)
class Runtime:
    """What runs a predictor: ``backend`` (torch, onnx), ``dtype``, ``device`` and why."""

    backend: str
    dtype: str
    device: str
    reason: str

    def __str__(self) -> str:
        return f"{self.backend} {self.dtype} on {self.device} ({self.reason})"

    @property
    def torch_dtype(self) -> str:
        """The dtype of the torch model behind this runtime (ONNX exports an fp32 model)."""
        return self.dtype if self.backend == "torch" else "fp32"


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU model name and its feature flags (``/proc/cpuinfo`` names)."""

    model: str
    flags: frozenset[str]

    @property
    def native_bf16(self) -> bool:
        return bool(self.flags & {"avx512_bf16", "amx_bf16"})

    def summary(self) -> str:
        shown = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8") if f in self.flags]
        return f"{self.model}; {' '.join(shown) or 'no AVX2/AVX-512'}"


@dataclass(frozen=True)
class Probe:
    """fp32 vs bf16 autocast on the probe texts: agreement and best-of-n seconds."""

    mean_cosine: float
    fp32_seconds: float
    bf16_seconds: float

    @property
    def speedup(self) -> float:
        return self.fp32_seconds / self.bf16_seconds if self.bf16_seconds > 0 else 0.0


def cpu_features() -> CpuFeatures:
    """This machine's CPU (read fresh each call; no process-wide memo)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
                if flags and not key:  # the first processor's block is enough
                    break
    except OSError:  # not Linux: ask oneDNN instead
        pass
    if not flags:
        try:
            import torch

            if torch.ops.mkldnn._is_mkldnn_bf16_supported():
                flags.add("avx512_bf16")
        except (AttributeError, RuntimeError):  # pragma: no cover
            pass
    return CpuFeatures(model, frozenset(flags))


def runtime_cache_dir() -> Path:
    from bertkit.encoder.fingerprint import cache_root  # the one cache root (BERTKIT_CACHE empty = unset)

    return cache_root() / "runtime"


def model_key(path: str | os.PathLike) -> str:
    """A cheap key for a model directory: its path and its files' names, sizes and mtimes."""
    root = Path(path).resolve()
    h = hashlib.sha256(str(root).encode())
    if root.is_dir():
        for f in sorted(root.iterdir()):
            if f.is_file():
                st = f.stat()
                h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def check_names(backend: str, dtype: str) -> None:
    """Validate backend and dtype names (``auto`` included) before any model is loaded."""
    if backend not in (AUTO, *BACKEND_DTYPES):
        raise choice_error("backend", backend, (AUTO, *BACKEND_DTYPES))
    if dtype not in (AUTO, *ALL_DTYPES):
        raise choice_error("dtype", dtype, (AUTO, *ALL_DTYPES))
    if backend in BACKEND_DTYPES and dtype != AUTO and dtype not in BACKEND_DTYPES[backend]:
        hint = "; int8 runs on backend 'onnx'" if dtype == "int8" else ""
        raise UsageError(
            f"dtype {dtype!r} is not available on backend {backend!r}; valid options: {', '.join(BACKEND_DTYPES[backend])}{hint}"
        )


def resolve_runtime(
    backend: str = AUTO,
    dtype: str = AUTO,
    device: str = AUTO,
    *,
    model: str | None = None,
    probe: Callable[[str], Probe] | None = None,
    features: CpuFeatures | None = None,
    cuda: bool | None = None,
    cache_dir: Path | None = None,
) -> Runtime:
    """The runtime for (backend, dtype, device), resolving ``auto`` by the table above.

    ``model`` (a :func:`model_key`) keys the probe cache; ``probe(device)`` measures fp32
    against bf16 on the model (called at most once, and only when bf16 is a candidate
    and no cached result exists). ``features`` and ``cuda`` default to this machine's.
    """
    backend = os.environ.get("BERTKIT_BACKEND", AUTO) if backend == AUTO else backend
    dtype = os.environ.get("BERTKIT_DTYPE", AUTO) if dtype == AUTO else dtype
    check_names(backend, dtype)
    dev = _device(device, backend, dtype, cuda)
    if backend != AUTO and dtype != AUTO:
        return Runtime(backend, dtype, dev, "asked")
    if dtype != AUTO:  # backend auto
        chosen = "onnx" if dtype == "int8" else "torch"
        return Runtime(chosen, dtype, "cpu" if chosen == "onnx" else dev, f"dtype {dtype} asked")
    if backend == "onnx":
        return Runtime("onnx", "fp32", "cpu", "onnx asked; int8 only when asked")
    fallback = ("torch", "fp32") if backend == "torch" or dev != "cpu" else ("onnx", "fp32")
    if dev == "cpu":
        feats = features or cpu_features()
        if not feats.native_bf16:
            return Runtime(*fallback, dev, "auto: no native bf16 on this CPU")
        where = "native bf16 CPU"
    else:
        where = "GPU"
    if probe is None:
        return Runtime(*fallback, dev, f"auto: {where}, no probe possible")
    result, cost = _cached_probe(probe, dev, model, features, cache_dir)
    cost = f"; {cost}" if cost else ""  # the first load says what the probe cost (later loads read the cache)
    if result.mean_cosine < AUTO_MIN_COSINE:
        return Runtime(*fallback, dev, f"auto: bf16 drifts on this model (cosine {result.mean_cosine:.5f} < {AUTO_MIN_COSINE}){cost}")
    if result.speedup <= 1.0:
        return Runtime(*fallback, dev, f"auto: bf16 not faster here ({result.speedup:.2f}x fp32){cost}")
    return Runtime(
        "torch", "bf16", dev, f"auto: {where}, bf16 {result.speedup:.1f}x fp32 at cosine {result.mean_cosine:.5f}{cost}"
    )


def _device(device: str, backend: str, dtype: str, cuda: bool | None) -> str:
    """'cpu' or the CUDA device; ONNX (named, or implied by int8) runs on the CPU."""
    onnx = backend == "onnx" or dtype == "int8"
    if device in (AUTO, None):
        if onnx:
            return "cpu"
        if cuda is None:
            import torch

            cuda = torch.cuda.is_available()
        return "cuda" if cuda else "cpu"
    if onnx and device != "cpu":
        raise UsageError("backend 'onnx' runs on the CPU here; use --device cpu, or --backend torch on a GPU")
    from bertkit.encoder.encoder import resolve_device

    dev = resolve_device(device)
    if dtype == "fp16" and dev.type != "cuda":
        raise UsageError("dtype 'fp16' needs a CUDA device; on CPU use bf16 or fp32")
    return str(dev)


def _version(*distributions: str) -> str:
    """An installed distribution's version, read from its metadata (nothing is imported)."""
    from importlib import metadata

    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "none"


def _cache_key(device: str, model: str | None, features: CpuFeatures | None) -> str:
    """The probe cache's key; on a CPU torch-free (its version read from the package metadata),
    so a warm start can find a cached probe without importing torch."""
    feats = features or cpu_features()
    parts = [PROBE_VERSION, feats.model, sorted(feats.flags), device, _version("torch"), _version("transformers"),
             _version("onnxruntime", "onnxruntime-gpu"), model]
    if device != "cpu":
        import torch

        if torch.cuda.is_available():
            parts.append(torch.cuda.get_device_name(device))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _cached_probe(probe: Callable[[str], Probe], device: str, model: str | None, features, cache_dir) -> tuple[Probe, str]:
    """The probe's result from the disk cache (and ``""``), or measured now, stored, and
    what it cost (``"probe 3.1 s, cached"``)."""
    path = (cache_dir or runtime_cache_dir()) / f"{_cache_key(device, model, features)}.json"
    try:
        return Probe(**json.loads(path.read_text())), ""
    except (OSError, ValueError, TypeError):
        pass
    start = time.perf_counter()
    result = probe(device)
    cost = f"probe {time.perf_counter() - start:.1f} s"
    if model is None:
        return result, f"{cost}, not cached (no model key)"
    from bertkit.io.atomic import OutputError, atomic_write_text

    try:
        atomic_write_text(path, json.dumps({**asdict(result)}) + "\n")
    except (OSError, OutputError):  # a read-only cache only costs a probe next time
        return result, f"{cost}, not cached ({path.parent} is not writable)"
    return result, f"{cost}, cached"


def measure(run_fp32: Callable[[], object], run_bf16: Callable[[], object], repeats: int = 3) -> tuple[float, float]:
    """Best-of-``repeats`` seconds of two callables, interleaved (after one warm-up each)."""
    run_fp32(), run_bf16()
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for i, fn in enumerate((run_fp32, run_bf16)):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]




PROBE_TIMED = 16  # the short calibration texts, timed (the agreement uses all of them)


def probe_encoder(encoder) -> Probe:
    """fp32 vs bf16 autocast on an fp32-loaded :class:`~bertkit.encoder.Encoder`.

    Agreement: mean-pooled last layer of every calibration text, in one batch. Speed:
    best of two runs on the first ``PROBE_TIMED`` (short) texts. A few seconds, once.
    """
    import torch

    from bertkit.encoder.forward import run_encoder
    from bertkit.engine.quality import CALIBRATION_TEXTS, agreement

    def batch_of(texts: list[str]):
        _, batch = next(iter(encoder.batches(encoder.tokenize(texts), len(texts))))
        return {k: v for k, v in batch.items() if k in encoder.input_keys}, batch["attention_mask"].unsqueeze(-1).float()

    def run(inputs, mask, bf16: bool):
        with torch.inference_mode(), torch.autocast(encoder.device.type, dtype=torch.bfloat16, enabled=bf16):
            hidden = run_encoder(encoder.model, inputs, hidden_states=False, pooler=False).last_hidden_state.float()  # (B, T, H)
        return ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy()  # (B, H)

    every = batch_of(list(CALIBRATION_TEXTS))
    cosine = agreement(run(*every, False), run(*every, True)).mean_cosine
    short = batch_of(list(CALIBRATION_TEXTS[:PROBE_TIMED]))
    fp32_s, bf16_s = measure(lambda: run(*short, False), lambda: run(*short, True), repeats=2)
    return Probe(float(cosine), fp32_s, bf16_s)
