"""The figures of an ``experiment`` run, written into ``<run>/figures/``.

Per setting (each compare folder of the run): the comparison (seeds, means and intervals,
paired differences), and for the first seed of the pathway arm: λ and the effective contribution
over training, the final λ per layer, and the effective contribution per layer.
"""

from pathlib import Path

from analysis.comparisons import comparison_figure
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
from analysis.runs import as_model
from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir


def experiment_figures(run_dir: str | Path, arm: str | None = None) -> list[Path]:
    """Write the figures of the experiment run ``run_dir`` (HTML, and PNG where possible) for ``arm``
    (default: each setting's first pathway arm); return their paths."""
    root = Path(run_dir)
    out = RunDir(root, writer=False).figures
    settings = sorted(p for p in root.iterdir() if RunDir(p, writer=False).results(".json").is_file())
    if not settings:
        raise FileNotFoundError(
            f"{root} holds no comparison results (<setting>/results.json): is it an experiment run?"
        )
    written: list[Path] = []
    for setting in settings:
        comparison = Comparison.load(setting)
        chosen = arm or next(iter(comparison.pathways), None)
        title = f"{root.name} / {setting.name}: {comparison.metric} over {len(comparison.scores[comparison.reference])} seeds"
        written += save_figure(comparison_figure(comparison, title=title), out / f"{setting.name}_comparison")
        runs = RunDir.seed_runs(setting / chosen) if chosen else []
        if not runs:
            continue
        first, model = runs[0], as_model(runs[0])
        where = f"{setting.name}, {chosen}, {first.name}"
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
