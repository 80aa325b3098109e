import pytest

from analysis.report import experiment_figures


def test_experiment_figures(experiment_run):
    written = experiment_figures(experiment_run)
    names = {p.name for p in written}
    stems = ["comparison", "lambda_history", "contribution_history", "lambda_heatmap", "contribution"]
    assert {f"from_scratch_tune_{s}.html" for s in stems} <= names
    assert all(p.parent == experiment_run / "figures" and p.stat().st_size > 0 for p in written)
    assert (experiment_run / "figures" / "plotly.min.js").is_file()
    assert "seed0" in (experiment_run / "figures" / "from_scratch_tune_lambda_history.html").read_text()


def test_a_folder_without_comparisons_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="experiment run"):
        experiment_figures(tmp_path)
