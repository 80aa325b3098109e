import numpy as np
import pytest
import torch

from analysis.similarity import (
    block_outputs,
    cka_heatmap,
    cka_matrix,
    cosine_similarity,
    evaluation_batch,
    linear_cka,
    pathway_similarity,
    representation_similarity,
    weight_similarity,
    with_aux_blocks,
)
from m2pt import build_model, reparameterize
from m2pt.controls import control_weights


@pytest.fixture
def model():
    return build_model("image", depth=3).eval()


def reversed_blocks(weights: dict) -> dict:
    """``weights`` with block i renamed to block depth-1-i."""
    depth = 1 + max(int(k.split(".")[1]) for k in weights if k.startswith("blocks."))
    out = {}
    for key, value in weights.items():
        if key.startswith("blocks."):
            _, i, rest = key.split(".", 2)
            key = f"blocks.{depth - 1 - int(i)}.{rest}"
        out[key] = value
    return out


def all_near(values: dict, expected: float) -> bool:
    return list(values.values()) == pytest.approx([expected] * len(values))


def test_cosine_known_answers():
    w = torch.randn(8, 5)
    assert cosine_similarity(w, w) == pytest.approx(1.0)
    assert cosine_similarity(w, -2 * w) == pytest.approx(-1.0)
    assert cosine_similarity(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])) == 0.0


def test_linear_cka_known_answers():
    x = torch.randn(500, 12, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(12, 12, dtype=torch.float64))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3 * x @ rotation + 1) == pytest.approx(1.0)  # rotation, scale, shift
    assert linear_cka(x, torch.randn(500, 7, dtype=torch.float64)) < 0.1  # independent
    assert linear_cka(x, x[:, :6]) < 1 - 1e-3


def test_weight_similarity_pairs_blocks_by_the_block_map(model):
    own = model.state_dict()
    assert all_near(weight_similarity(model, own), 1.0)
    flipped = reversed_blocks(own)
    assert all_near(weight_similarity(model, flipped, block_map="reversed"), 1.0)
    identity = weight_similarity(model, flipped)
    assert identity["blocks.1.attn.qkv"] == pytest.approx(1.0)  # the middle block maps to itself
    assert abs(identity["blocks.0.attn.qkv"]) < 0.2  # block 0 against block 2: unrelated


def test_pathway_similarity_known_answers(model):
    reparameterize(model, {k: -2 * v for k, v in model.state_dict().items()}, lambda_init=0.25)  # merged: W/2
    similarity = pathway_similarity(model)
    assert set(similarity) == {"W vs W'", "W vs merged", "W' vs merged"} and len(similarity["W vs W'"]) == 12
    assert all_near(similarity["W vs W'"], -1.0)
    assert all_near(similarity["W vs merged"], 1.0)
    assert all_near(similarity["W' vs merged"], -1.0)


def test_block_updates_are_outputs_minus_inputs(model):
    x = model.example_input(2)
    outputs, updates = block_outputs(model, x), block_outputs(model, x, part="update")
    assert len(outputs) == 3 and outputs[0].shape == (2, 1 + 16, 96)
    for i in (1, 2):  # block i's input is block i-1's output
        torch.testing.assert_close(outputs[i] - updates[i], outputs[i - 1])
    assert model.training is False


def test_cka_of_a_model_with_itself_is_one_on_the_diagonal(model):
    x = model.example_input(4)
    for part in ("output", "update"):
        matrix = cka_matrix(model, model.state_dict(), x, part)
        np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-6)


def test_representation_similarity_reads_the_paired_entries(model):
    x, aux = model.example_input(4), build_model("audio", depth=3)
    matrix = cka_matrix(model, aux, x)
    reverse = representation_similarity(model, aux, x, block_map="reversed")
    assert list(reverse.values()) == pytest.approx([matrix[0, 2], matrix[1, 1], matrix[2, 0]])
    fig = cka_heatmap(matrix)
    np.testing.assert_allclose(np.array(fig.data[0].z), matrix)
    assert [t.name for t in fig.data[1:]] == ["identity", "reversed"]


def test_a_control_without_norms_keeps_the_targets(model):
    control = control_weights("random", model.state_dict(), seed=0)  # 2-D matrices only
    swapped = with_aux_blocks(model, control)
    torch.testing.assert_close(swapped.blocks[0].attn.qkv.weight, control["blocks.0.attn.qkv.weight"])
    torch.testing.assert_close(swapped.blocks[0].norm1.weight, model.blocks[0].norm1.weight)
    with pytest.raises(ValueError, match="missing"):
        with_aux_blocks(model, {k: v for k, v in control.items() if "fc2" not in k})


def test_on_a_trained_run(m2pt_run, aux_encoder):
    x = evaluation_batch(m2pt_run, size=8)
    assert x.shape == (8, 1, 28, 28)
    cosines = weight_similarity(m2pt_run, aux_encoder)
    assert len(cosines) == 12 and all(-1 <= v <= 1 for v in cosines.values())
    cka = representation_similarity(m2pt_run, aux_encoder, x)
    assert list(cka) == ["blocks.0", "blocks.1", "blocks.2"] and all(0 <= v <= 1 + 1e-9 for v in cka.values())
