"""The pretraining budget workflow: one MAE saved at several epochs, the target fine-tuned from each."""

from m2pt.run_dir import RunDir
from workflows import run_workflow

TINY = ["data.size=tiny", "data.batch_size=16", "model.options.depth=2", "epochs=1", "log_every=2",
        "compare.seeds=[0, 1]", "threads=1"]  # fmt: skip


def test_the_budget_workflow_measures_the_curve_and_chooses_a_budget(tmp_path):
    curve = run_workflow("budget", overrides=[
        f"output_dir={tmp_path}", "name=budget", *TINY, "budget.epochs=[2, 1]",
        "budget.settings={tune: {}, fix: {finetune.mode: fix}}", "budget.pretrain={optim.lr: 0.002}"])  # fmt: skip
    root = RunDir(tmp_path / "budget", writer=False)
    assert [p.epoch for p in curve] == [1, 2] and set(curve[0].gains) == {"tune", "fix"}
    mae = RunDir(root.auxiliary("mae"), writer=False)
    assert mae.config()["epochs"] == 2 and mae.config()["pretrain"]["save_epochs"] == [1]
    assert mae.config()["optim"]["lr"] == 0.002
    init = RunDir(root.path / "fix" / "epoch1" / RunDir.seed_name(1), writer=False).config()
    assert init["finetune"]["start"] == "pretrained" and init["finetune"]["mode"] == "fix"
    report = root.budget_report_file.read_text()
    assert (
        "| pretraining epochs | reconstruction loss (val) | init gain, tune [95% CI] | init gain, fix [95% CI] |"
        in report
    )
    assert "Chosen: **" in report and (root.figures / "mae_budget.html").is_file()
