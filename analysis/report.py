"""The figures of an ``experiment`` run, written into ``<run>/figures/``.

Per setting (each compare folder of the run): the comparison (seeds, means and intervals,
paired differences), and for the first seed of the pathway arm: λ and the effective contribution
over training, the final λ per layer, and the effective contribution per layer.
"""

from pathlib import Path

from analysis.comparisons import comparison_figure, load_comparison
from analysis.figures import save_figure
from analysis.pathway_strength import (
    contribution_heatmap,
    contribution_lines,
    effective_contribution,
    final_lambdas,
    lambda_heatmap,
    lambda_history,
    lambda_lines,
)
from analysis.runs import as_model, seed_runs


def experiment_figures(run_dir: str | Path, arm: str = "m2pt") -> list[Path]:
    """Write the figures of the experiment run ``run_dir`` (HTML, and PNG where possible); return their paths."""
    root = Path(run_dir)
    out = root / "figures"
    settings = sorted(p.parent for p in root.glob("*/results.json"))
    if not settings:
        raise FileNotFoundError(f"{root} holds no compare results (<setting>/results.json): is it an experiment run?")
    written: list[Path] = []
    for setting in settings:
        comparison = load_comparison(setting)
        title = f"{root.name} / {setting.name}: {comparison.metric} over {len(comparison.scores[comparison.reference])} seeds"
        written += save_figure(comparison_figure(comparison, title=title), out / f"{setting.name}_comparison")
        runs = seed_runs(setting / arm)
        if not runs:
            continue
        first, model = runs[0], as_model(runs[0])
        where = f"{setting.name}, {arm}, {first.name}"
        history = lambda_history(first)
        figures = {
            "lambda_history": lambda_lines(history, title=f"λ over training ({where})"),
            "contribution_history": contribution_lines(
                history, title=f"Effective contribution |λ|·‖W'‖/‖W‖ over training ({where})"
            ),
            "lambda_heatmap": lambda_heatmap(final_lambdas(model), title=f"λ per layer after training ({where})"),
            "contribution": contribution_heatmap(
                effective_contribution(model), title=f"Effective contribution |λ|·‖W'‖/‖W‖ ({where})"
            ),
        }
        for name, fig in figures.items():
            written += save_figure(fig, out / f"{setting.name}_{name}")
    return written
