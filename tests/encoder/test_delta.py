import pytest
import torch
from safetensors.torch import save_file

from bertkit.encoder.delta import (RowDelta, apply_deltas, changed_rows, dequantize_rows, load_deltas, pack_int4, quantize_rows,
                                   save_deltas, top_layer_names, unpack_int4, weight_deltas)
from bertkit.errors import ModelLoadError, UsageError

NAMES = ["embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
         "encoder.layer.1.output.dense.bias", "encoder.layer.2.output.LayerNorm.weight", "pooler.dense.weight"]


def test_top_layer_names_bert_distilbert_and_all():
    assert top_layer_names(NAMES, 3, 2) == NAMES[2:4]
    assert top_layer_names(NAMES, 3, 0) == []
    assert top_layer_names(NAMES, 3, None) == NAMES
    assert top_layer_names(["transformer.layer.1.ffn.lin1.weight", "layers.0.mlp.Wi.weight", "layer_norm.weight"], 2, 2) == [
        "transformer.layer.1.ffn.lin1.weight", "layers.0.mlp.Wi.weight"]


@pytest.mark.parametrize("levels", [127, 7])
def test_quantize_rows_error_within_half_a_step(levels):
    torch.manual_seed(0)
    delta = torch.randn(8, 50) * torch.logspace(-4, 0, 8)[:, None]  # rows of very different size
    delta[3] = 0.0
    codes, scale = quantize_rows(delta, levels)
    assert codes.dtype == torch.int8 and scale.shape == (8,) and codes.abs().max() == levels
    back = dequantize_rows(codes, scale)
    assert torch.all((back - delta).abs() <= scale[:, None] / 2 + 1e-9)
    assert torch.equal(back[3], torch.zeros(50))
    assert torch.equal(delta[3], torch.zeros(50))  # the input is untouched


def test_int4_packing_round_trip():
    codes = torch.tensor([[-7, 7, 0, 3], [1, -1, -4, 5]], dtype=torch.int8)
    packed = pack_int4(codes)
    assert packed.dtype == torch.uint8 and packed.shape == (2, 2)
    assert torch.equal(unpack_int4(packed), codes)


def test_changed_rows_ignores_rows_only_scaled_by_weight_decay():
    torch.manual_seed(0)
    base = torch.randn(6, 16)
    tuned = base * (1 - 8e-4)  # weight decay alone
    tuned[[1, 4]] += 1e-3 * torch.randn(2, 16)  # trained rows
    assert changed_rows(tuned - base, base).tolist() == [1, 4]


def test_weight_deltas_keeps_changed_tensors_and_trained_rows():
    base = {"a": torch.ones(2, 3), "b": torch.zeros(4), "ids": torch.arange(4), "emb": torch.randn(5, 4)}
    emb = base["emb"].clone()
    emb[2] += torch.tensor([0.1, -0.1, 0.0, 0.05])
    tuned = {"a": torch.ones(2, 3), "b": torch.tensor([0.0, 1.0, 0.0, 0.0]), "ids": torch.arange(4) + 1, "emb": emb}
    deltas = weight_deltas(base, tuned)
    assert sorted(deltas) == ["b", "emb"] and deltas["b"].rows is None and torch.equal(deltas["b"].values, tuned["b"])
    assert deltas["emb"].rows.tolist() == [2] and deltas["emb"].values.shape == (1, 4)
    with pytest.raises(ValueError, match="different tensors"):
        weight_deltas(base, {"a": tuned["a"]})


@pytest.mark.parametrize("dtype,atol,matrix_bytes", [("fp16", 1e-3, 8 * 16 * 2), ("int8", 2e-3, 8 * 16 + 8 * 4), ("int4", 4e-2, 8 * 8 + 8 * 4)])
def test_save_load_apply_round_trip(tmp_path, dtype, atol, matrix_bytes):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.LayerNorm(8))
    base = {k: v.clone() for k, v in model.state_dict().items()}
    tuned = {k: v + 0.1 * torch.randn_like(v) for k, v in base.items()}
    n_bytes = save_deltas(tmp_path / "d.safetensors", weight_deltas(base, tuned), dtype, "abc")
    assert n_bytes == matrix_bytes + 3 * 8 * 2  # the matrix (+ row scales) and three fp16 vectors
    apply_deltas(model, load_deltas(tmp_path / "d.safetensors", "abc"), "m")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, tuned[name], atol=atol, rtol=0)


def test_row_deltas_change_only_their_rows(tmp_path):
    emb = torch.nn.Embedding(10, 4)
    base = emb.weight.detach().clone()
    save_deltas(tmp_path / "d.safetensors", {"weight": RowDelta(torch.ones(2, 4), torch.tensor([3, 7]))}, "int4", "abc")
    apply_deltas(emb, load_deltas(tmp_path / "d.safetensors"), "m")
    changed = (emb.weight.detach() != base).any(dim=1).nonzero().flatten().tolist()
    assert changed == [3, 7]
    torch.testing.assert_close(emb.weight.detach()[3], base[3] + 1)


def test_load_refuses_other_base_format_and_shapes(tmp_path):
    path = tmp_path / "d.safetensors"
    save_deltas(path, {"0.weight": RowDelta(torch.ones(3, 2))}, "int8", "abc")
    with pytest.raises(ModelLoadError, match="another base encoder"):
        load_deltas(path, "xyz")
    with pytest.raises(ModelLoadError, match="does not fit the base encoder"):
        apply_deltas(torch.nn.Sequential(torch.nn.Linear(3, 3)), load_deltas(path), "m")
    save_deltas(path, {"weight": RowDelta(torch.ones(1, 4), torch.tensor([12]))}, "fp16", "abc")
    with pytest.raises(ModelLoadError, match="does not fit the base encoder"):
        apply_deltas(torch.nn.Embedding(10, 4), load_deltas(path), "m")
    save_file({"w": torch.ones(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ModelLoadError, match="not a bertkit delta file"):
        load_deltas(tmp_path / "plain.safetensors")
    with pytest.raises(ModelLoadError, match="missing"):
        load_deltas(tmp_path / "none.safetensors")
    with pytest.raises(UsageError, match="valid options: fp16, int8, int4"):
        save_deltas(path, {}, "int2", "abc")
