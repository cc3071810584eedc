"""backend="auto" / dtype="auto": the decision table, with the CPU features and the probe injected."""

from __future__ import annotations

import pytest

from bertkit.engine.runtime import CpuFeatures, Probe, Runtime, cpu_features, resolve_runtime
from bertkit.errors import UsageError

ZEN5 = CpuFeatures("AMD Ryzen 9 9950X (test)", frozenset({"avx2", "avx512f", "avx512_bf16"}))
SAPPHIRE = CpuFeatures("Intel Xeon (test)", frozenset({"avx2", "avx512f", "amx_bf16"}))
AVX2 = CpuFeatures("AMD EPYC 7B12 (test)", frozenset({"avx2", "fma"}))
GOOD = Probe(mean_cosine=0.99999, fp32_seconds=0.30, bf16_seconds=0.10)


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("BERTKIT_BACKEND", raising=False)
    monkeypatch.delenv("BERTKIT_DTYPE", raising=False)


class Probes:
    """A probe that records its calls and returns a fixed result."""

    def __init__(self, result: Probe) -> None:
        self.result, self.calls = result, []

    def __call__(self, device: str) -> Probe:
        self.calls.append(device)
        return self.result


def auto(tmp_path, features, probe, **kw) -> Runtime:
    return resolve_runtime("auto", "auto", kw.pop("device", "auto"), model="m", probe=probe, features=features, cuda=False,
                           cache_dir=tmp_path, **kw)


@pytest.mark.parametrize("features", [ZEN5, SAPPHIRE])
def test_native_bf16_cpu_picks_torch_bf16(tmp_path, features):
    probe = Probes(GOOD)
    rt = auto(tmp_path, features, probe)
    assert (rt.backend, rt.dtype, rt.device) == ("torch", "bf16", "cpu")
    assert "native bf16" in rt.reason and "3.0x" in rt.reason and probe.calls == ["cpu"]


def test_cpu_without_bf16_picks_onnx_fp32_without_probing(tmp_path):
    probe = Probes(GOOD)
    rt = auto(tmp_path, AVX2, probe)
    assert (rt.backend, rt.dtype, rt.device) == ("onnx", "fp32", "cpu")
    assert "no native bf16" in rt.reason and probe.calls == []


def test_backend_torch_without_bf16_is_fp32(tmp_path):
    rt = resolve_runtime("torch", "auto", "auto", model="m", probe=Probes(GOOD), features=AVX2, cuda=False, cache_dir=tmp_path)
    assert (rt.backend, rt.dtype) == ("torch", "fp32")


def test_bf16_that_drifts_falls_back(tmp_path):
    rt = auto(tmp_path, ZEN5, Probes(Probe(0.9990, 0.3, 0.1)))
    assert (rt.backend, rt.dtype) == ("onnx", "fp32") and "drifts" in rt.reason


def test_bf16_that_is_not_faster_falls_back(tmp_path):
    rt = auto(tmp_path, ZEN5, Probes(Probe(0.99999, 0.1, 0.2)))
    assert (rt.backend, rt.dtype) == ("onnx", "fp32") and "not faster" in rt.reason


def test_probe_result_is_cached_on_disk(tmp_path):
    first = Probes(GOOD)
    assert auto(tmp_path, ZEN5, first).dtype == "bf16"
    again = Probes(Probe(0.5, 1.0, 1.0))  # would refuse bf16 if it ran
    assert auto(tmp_path, ZEN5, again).dtype == "bf16" and again.calls == []
    other_cpu = CpuFeatures("another CPU", ZEN5.flags)
    assert auto(tmp_path, other_cpu, again).backend == "onnx" and again.calls == ["cpu"]  # keyed by CPU
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_gpu_picks_torch_bf16_and_falls_back_to_torch_fp32(tmp_path):
    rt = resolve_runtime(model="m", probe=Probes(GOOD), features=AVX2, cuda=True, cache_dir=tmp_path, device="auto")
    assert (rt.backend, rt.dtype, rt.device) == ("torch", "bf16", "cuda") and "GPU" in rt.reason
    rt = resolve_runtime(model="m2", probe=Probes(Probe(0.99, 1, 1)), features=AVX2, cuda=True, cache_dir=tmp_path)
    assert (rt.backend, rt.dtype, rt.device) == ("torch", "fp32", "cuda")


def test_explicit_choices_win(tmp_path):
    probe = Probes(GOOD)
    kw = dict(model="m", probe=probe, features=ZEN5, cuda=False, cache_dir=tmp_path)
    assert resolve_runtime("torch", "fp32", **kw) == Runtime("torch", "fp32", "cpu", "asked")
    assert resolve_runtime("onnx", "int8", **kw).dtype == "int8"
    assert resolve_runtime("auto", "int8", **kw).backend == "onnx"
    assert resolve_runtime("auto", "fp32", **kw).backend == "torch"  # fp32 alone: the torch reference
    assert resolve_runtime("onnx", "auto", **kw) == Runtime("onnx", "fp32", "cpu", "onnx asked; int8 only when asked")
    assert probe.calls == []


def test_environment_stands_in_for_auto(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_BACKEND", "onnx")
    rt = auto(tmp_path, ZEN5, Probes(GOOD))
    assert (rt.backend, rt.dtype) == ("onnx", "fp32")
    assert resolve_runtime("torch", "bf16", features=ZEN5, cuda=False).backend == "torch"  # explicit beats the environment


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(UsageError, match="unknown backend 'tensorrt'; valid options: auto, torch, onnx"):
        resolve_runtime("tensorrt", "auto")
    with pytest.raises(UsageError, match="dtype 'int8' is not available on backend 'torch'"):
        resolve_runtime("torch", "int8")
    with pytest.raises(UsageError, match="runs on the CPU"):
        resolve_runtime("onnx", "fp32", "cuda")


def test_this_machine_is_described():
    features = cpu_features()
    assert features.model and isinstance(features.native_bf16, bool)
    assert features.summary()
