"""RunDir is the one authority for the names in a run folder: renaming a file there renames it everywhere."""

import os

from analysis.report import experiment_figures
from analysis.runs import metric_records
from m2pt.run_dir import RunDir
from m2pt.saved import load_classifier
from workflows import run_workflow

TINY = ["data.size=tiny", "data.batch_size=16", "data.eval_batch_size=64", "model.options.depth=2", "epochs=1",
        "log_every=2", "compare.seeds=[3]", "data.train_limit=32", "data.val_limit=32"]  # fmt: skip


def test_seed_and_pair_names_parse_back():
    assert RunDir.parse_seed(RunDir.seed_name(12)) == 12 and RunDir.parse_seed("seedling") is None
    assert RunDir.parse_pair(RunDir.pair_name("image", "audio")) == ("image", "audio")
    assert RunDir.parse_pair(RunDir.shared_name("image")) is None and RunDir.parse_pair("image") is None


def test_renaming_a_file_in_run_dir_is_enough(tmp_path, monkeypatch):
    monkeypatch.setenv("M2PT_CACHE", os.environ.get("M2PT_TEST_CACHE") or str(tmp_path / "cache"))
    renamed = {"SUMMARY": "done.json", "MODEL": "weights.safetensors", "METRICS": "events.jsonl",
               "LAMBDAS": "pathway.jsonl", "LAST": "latest.pt", "SEED": "s{seed}", "RESULTS": "table",
               "CONFIG": "settings.yaml"}  # fmt: skip
    for attribute, name in renamed.items():
        monkeypatch.setattr(RunDir, attribute, name)
    arms = "{baseline: {}, random: {aux: [random]}}"
    first = run_workflow("compare", overrides=[f"output_dir={tmp_path}", "name=cmp", *TINY, f"compare.arms={arms}"])
    run = tmp_path / "cmp" / "random" / "s3"
    for name in ("done.json", "weights.safetensors", "events.jsonl", "pathway.jsonl", "checkpoints/latest.pt",
                 "settings.yaml"):  # fmt: skip
        assert (run / name).is_file(), name
    for name in ("summary.json", "model.safetensors", "metrics.jsonl", "lambdas.jsonl", "config.yaml"):
        assert not (run / name).exists(), name
    assert (tmp_path / "cmp" / "table.json").is_file() and not (tmp_path / "cmp" / "results.json").exists()
    again = run_workflow("compare", overrides=[f"output_dir={tmp_path}", "name=cmp", *TINY, f"compare.arms={arms}"])
    assert again.scores == first.scores  # the finished runs are found under their new names
    load_classifier(run)
    assert metric_records(run)[0] and RunDir.seed_runs(tmp_path / "cmp" / "random") == [run]
    assert any(p.suffix == ".html" for p in experiment_figures(tmp_path))  # reads the renamed results too


SPELLINGS = [
    '"summary.json"',
    '"model.safetensors"',
    '"encoder.safetensors"',
    '"last.pt"',
    '"checkpoints"',
    '"metrics.jsonl"',
    '"lambdas.jsonl"',
    '"config.yaml"',
    '"results.json"',
    '"seed{',
    '"__"',
]


def test_no_module_spells_a_run_folder_name():
    """The names live in RunDir alone (the docstring at the top of run_dir.py lists them)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spelled = []
    for package in ("m2pt", "analysis", "workflows"):
        for path in (root / package).rglob("*.py"):
            if path.name == "run_dir.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0].replace("'", '"')
                spelled += [f"{path.relative_to(root)}:{number}: {line.strip()}" for s in SPELLINGS if s in code]
    assert not spelled, "\n".join(spelled)
