"""One local Ray (2 CPUs) per test module that asks for it: Ray takes seconds to start."""

import pytest


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    from bertkit.distributed.ray_env import connect

    started = connect(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()
