"""The widgets' callbacks, driven without a browser: set the controls, click, read `.figure` and `.status`."""

import shutil
import threading

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from ipywidgets import Output

from analysis.layers import layer_grid
from workflows import widgets
from workflows.widgets import PathwayViewer, RunLauncher, render


@pytest.fixture
def launcher(tmp_path, experiment_run):
    shutil.copytree(experiment_run / "aux", tmp_path / "aux")  # the small audio encoder, reused
    return RunLauncher(tmp_path, background=False)


def test_config_follows_the_choices(launcher, tmp_path):
    launcher.layers.value = ("attn.qkv",)
    launcher.lambda_init.value = 1e-4
    launcher.epochs.value = 3
    config = launcher.config()
    assert config.name == "image_audio_from_scratch_tune_1" and config.epochs == 3
    assert config.pathway.aux == [str(tmp_path / "aux" / "audio" / "encoder.safetensors")]
    assert config.pathway.layers == ["attn.qkv"] and config.pathway.lambda_init == 1e-4
    assert config.finetune.start == "from_scratch" and config.data.dataset == "mnist"
    launcher.aux.value = "random"
    assert launcher.config().pathway.aux == ["random"]
    launcher.aux.value = "none"
    assert launcher.config().pathway.aux == []
    launcher.target.value, launcher.setting.value = "video", "pretrained_fix"
    config = launcher.config()
    assert config.data.dataset == "moving_digits" and config.name == "video_none_pretrained_fix_1"
    assert config.finetune.init == str(tmp_path / "aux" / "video" / "encoder.safetensors")
    assert (config.finetune.start, config.finetune.mode) == ("pretrained", "fix")


def test_launch_trains_and_plots_the_run(launcher, tmp_path):
    launcher.button.click()
    run = tmp_path / "image_audio_from_scratch_tune_1"
    assert launcher.result == run and (run / "summary.json").is_file()
    assert launcher.status.value.startswith("done") and not launcher.button.disabled
    curves = {trace.name: trace for trace in launcher.figure.data}
    assert len(curves["train loss"].x) == 10 and list(curves["val accuracy"].x) == [5, 10]
    assert (launcher.progress.value, launcher.progress.max) == (2, 2)
    assert launcher.progress_text.value.startswith("image_audio_from_scratch_tune_1: epoch 2/2 done, step 10")
    log = "".join(output["text"] for output in launcher.log.outputs)
    assert log.startswith("audio: epoch 1/2 (step ")  # the reused encoder's pretraining, then the run
    assert "image_audio_from_scratch_tune_1: epoch 1/2 (step 5), val_acc " in log and log.count("\n") == 4
    assert launcher.config().name == "image_audio_from_scratch_tune_2"


def test_a_bad_choice_is_reported_and_the_button_comes_back(launcher):
    launcher.layers.value = ()
    launcher.button.click()  # ipywidgets logs the callback's exception
    assert "at least one layer" in launcher.status.value and "failed" in launcher.status.value
    assert "ValueError: choose at least one layer" in launcher.log.outputs[-1]["text"]  # the traceback
    assert not launcher.button.disabled and launcher.result is None


def test_background_launch_refuses_a_second_run_meanwhile(tmp_path, monkeypatch):
    entered, release = threading.Event(), threading.Event()

    def blocked_run(stage, config):
        entered.set()
        release.wait(timeout=60)
        return {"final": {"val_acc": 0.5, "val_loss": 1.0}}

    monkeypatch.setattr(widgets, "run_stage", blocked_run)
    launcher = RunLauncher(tmp_path, background=True, poll_seconds=0.01)
    launcher.aux.value = "none"
    launcher.button.click()
    assert entered.wait(timeout=60)
    launcher.button.click()
    assert "in progress" in launcher.status.value and launcher.button.disabled
    release.set()
    launcher._worker.join(timeout=60)
    assert launcher.status.value.startswith("done") and not launcher.button.disabled


def test_viewer_slider_shows_lambda_at_that_step(m2pt_run):
    viewer = PathwayViewer(m2pt_run)
    history = viewer.history
    assert viewer.slider.value == viewer.slider.max == len(history.steps) - 1
    viewer.slider.value = 3
    assert viewer.figure.layout.title.text.startswith(f"seed0: λ per layer at step {history.steps[3]} ")
    np.testing.assert_allclose(np.array(viewer.figure.data[0].z, dtype=float), layer_grid(history.at(3))[0])
    bound = np.abs(history.values).max()
    assert (viewer.figure.data[0].zmin, viewer.figure.data[0].zmax) == pytest.approx((-bound, bound))


def test_viewer_picks_among_the_runs_of_a_folder(experiment_run, m2pt_run):
    viewer = PathwayViewer(experiment_run)  # a folder: the λ-logging runs under it, by name
    names = [name for name, _ in viewer.picker.options]
    assert "from_scratch_tune/m2pt/seed0" in names and "from_scratch_tune/random/seed1" in names
    assert not any(name.startswith(("aux", "from_scratch_tune/baseline")) for name in names)  # no λ log there
    viewer.slider.value = 1
    viewer.picker.value = str(m2pt_run)
    assert viewer.run == m2pt_run and viewer.slider.value == viewer.slider.max == len(viewer.history.steps) - 1
    assert viewer.figure.layout.title.text.startswith("seed0: λ per layer at step ")


def test_viewer_without_runs_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        PathwayViewer(tmp_path)


def test_viewer_follows_the_launched_runs(launcher, tmp_path):
    first = launcher.run()
    viewer = PathwayViewer(first, launcher=launcher)
    launcher.lambda_init.value, launcher.epochs.value = 1e-2, 1
    launcher.button.click()
    second = tmp_path / "image_audio_from_scratch_tune_2"
    assert viewer.run == second and viewer.picker.value == str(second)
    assert [name for name, _ in viewer.picker.options] == [first.name, second.name]
    assert list(viewer.history.steps) == [0, 1, 2, 3, 4, 5] and viewer.slider.value == viewer.slider.max == 5
    assert viewer.figure.layout.title.text.startswith("image_audio_from_scratch_tune_2: ")
    launcher.aux.value = "none"
    launcher.button.click()
    assert "image_none_from_scratch_tune_1 has no pathway" in viewer.note.value and viewer.run == second


def test_render_replaces_the_output(monkeypatch):
    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    output = Output()
    for y in ([1, 2], [3, 4]):
        render(output, go.Figure(go.Bar(y=y)))
    assert len(output.outputs) == 1
    assert output.outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"][0]["y"] == [3, 4]
