import pytest

from bertkit.embeddings.layers import parse_layers
from bertkit.errors import UsageError


@pytest.mark.parametrize(
    "spec, indices",
    [("-1", (6,)), ("-2", (5,)), ("0", (0,)), ("-4:", (3, 4, 5, 6)), ("2:5", (2, 3, 4)), ("all", (1, 2, 3, 4, 5, 6)), ("-1,-2", (6, 5)), (-1, (6,))],
)
def test_specs(spec, indices):
    sel = parse_layers(spec, 6)
    assert sel.indices == indices
    assert sel.last_only == (indices == (6,))


@pytest.mark.parametrize("spec", ["x", "1:2:3", "-9", "7", "a:", "", "5:2"])
def test_bad_specs_name_the_problem(spec):
    with pytest.raises(UsageError) as err:
        parse_layers(spec, 6)
    assert repr(spec) in str(err.value) or "out of range" in str(err.value)
