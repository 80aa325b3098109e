import numpy as np
import pytest
import torch

from analysis.pathway_strength import (
    contribution_heatmap,
    contribution_lines,
    effective_contribution,
    final_lambdas,
    lambda_heatmap,
    lambda_history,
    lambda_lines,
)
from m2pt import build_model, merge, reparameterize


@pytest.fixture
def scaled_pathway():
    """A model whose every auxiliary weight is 3 W, with λ = -0.5: the contribution is 1.5 everywhere."""
    model = build_model("image", depth=2)
    reparameterize(model, {k: 3 * v for k, v in model.state_dict().items()}, lambda_init=-0.5)
    return model


def test_effective_contribution_is_lambda_times_the_norm_ratio(scaled_pathway):
    contribution = effective_contribution(scaled_pathway)
    assert len(contribution) == 8
    assert contribution.values() == pytest.approx([1.5] * 8)
    assert final_lambdas(scaled_pathway).values() == pytest.approx([-0.5] * 8)


def test_a_model_without_pathway_is_refused(scaled_pathway):
    with pytest.raises(ValueError, match="no re-parameterized layers"):
        final_lambdas(merge(scaled_pathway))


def test_history_starts_at_lambda_init_and_ends_at_the_saved_lambdas(m2pt_run):
    history = lambda_history(m2pt_run)
    steps, layers = len(history.steps), len(history.layers)
    assert history.values.shape == (steps, layers, 1) and layers == 12
    assert history.steps[0] == 0 and (history.values[0] == 0).all()
    assert (np.diff(history.steps) > 0).all() and history.steps[-1] == 10  # 2 epochs of 5 steps, all logged
    final = final_lambdas(m2pt_run)
    assert history.at(-1) == pytest.approx(final, abs=1e-7)
    assert any(v != 0 for v in final.values()), "λ trained"
    assert history.contributions.shape == history.values.shape and (history.contributions[0] == 0).all()
    contribution = effective_contribution(m2pt_run)
    logged = {name: history.contributions[-1, i, 0] for i, name in enumerate(history.layers)}
    assert logged == pytest.approx(contribution, rel=1e-5)


def test_a_run_without_pathway_has_no_history(experiment_run):
    with pytest.raises(FileNotFoundError, match="lambdas.jsonl"):
        lambda_history(experiment_run / "from_scratch_tune" / "baseline" / "seed0")


def test_figures_show_the_values(m2pt_run):
    history = lambda_history(m2pt_run)
    lines = lambda_lines(history)
    assert len(lines.data) == 12
    qkv0 = history.layers.index("blocks.0.attn.qkv")
    np.testing.assert_allclose(lines.data[qkv0].y, history.values[:, qkv0, 0])
    contribution = contribution_lines(history)
    np.testing.assert_allclose(contribution.data[qkv0].y, history.contributions[:, qkv0, 0])
    heatmap = lambda_heatmap(history.at(-1))
    assert np.array(heatmap.data[0].z)[0, 0] == pytest.approx(history.at(-1)["blocks.0.attn.qkv"])
    contribution = effective_contribution(m2pt_run)
    assert np.array(contribution_heatmap(contribution).data[0].z).min() >= 0
    assert torch.isfinite(torch.tensor(list(contribution.values()))).all()
