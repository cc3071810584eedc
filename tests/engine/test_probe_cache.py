"""The runtime probe: measured once per model and machine, its cost said the first time."""

from __future__ import annotations

import json
import re

import pytest

from bertkit.engine.runtime import CpuFeatures, Probe, resolve_runtime

ZEN5 = CpuFeatures("AMD Ryzen 9 9950X (test)", frozenset({"avx2", "avx512f", "avx512_bf16"}))
OTHER_CPU = CpuFeatures("Intel Xeon (test)", frozenset({"avx2", "avx512f", "amx_bf16"}))
GOOD = Probe(mean_cosine=0.99999, fp32_seconds=0.30, bf16_seconds=0.10)


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("BERTKIT_BACKEND", raising=False)
    monkeypatch.delenv("BERTKIT_DTYPE", raising=False)


def resolve(tmp_path, calls, model="m", features=ZEN5, cache_dir=None):
    def probe(device):
        calls.append(device)
        return GOOD

    return resolve_runtime(model=model, probe=probe, features=features, cuda=False, cache_dir=cache_dir or tmp_path)


def test_first_load_states_the_probe_cost_later_loads_read_the_cache(tmp_path):
    calls: list[str] = []
    first = resolve(tmp_path, calls)
    assert re.search(r"; probe \d+\.\d s, cached$", first.reason), first.reason
    again = resolve(tmp_path, calls)
    assert calls == ["cpu"] and "probe" not in again.reason and (again.backend, again.dtype) == ("torch", "bf16")
    (entry,) = tmp_path.glob("*.json")  # one JSON file per model and machine, written atomically (no temp file left)
    assert json.loads(entry.read_text()) == {"mean_cosine": 0.99999, "fp32_seconds": 0.3, "bf16_seconds": 0.1}


def test_another_model_or_cpu_is_probed_again(tmp_path):
    calls: list[str] = []
    resolve(tmp_path, calls)
    resolve(tmp_path, calls, model="m2")
    resolve(tmp_path, calls, features=OTHER_CPU)
    assert calls == ["cpu", "cpu", "cpu"] and len(list(tmp_path.glob("*.json"))) == 3


def test_an_unwritable_cache_only_costs_a_probe_next_time(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    calls: list[str] = []
    runtime = resolve(tmp_path, calls, cache_dir=blocker / "runtime")
    assert "not cached" in runtime.reason and runtime.dtype == "bf16"
