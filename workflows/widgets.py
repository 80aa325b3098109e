"""Notebook widgets: launch a run and watch its loss live; browse λ per layer over training.

The logic is here, not in the notebooks, so that it is testable without a browser: every
control is an attribute, every callback a method, and the latest figure is kept in ``.figure``.
Figures are plotly figures re-rendered into an ``ipywidgets.Output`` (plotly's ``FigureWidget``
needs the ``anywidget`` package, which the workbench does not install). Display a view by
leaving it as the last expression of a cell.
"""

import html
import threading
from pathlib import Path

import ipywidgets as widgets
import plotly.graph_objects as go

from analysis.curves import curves_figure
from analysis.pathway_strength import lambda_heatmap, lambda_history
from analysis.runs import metric_records
from m2pt import DEFAULT_LAYERS
from m2pt.run_dir import RunDir
from m2pt.train import run_stage
from m2pt.train.config import FinetuneRun, apply_overrides
from m2pt.vocabulary import LAMBDA_INITS, MODALITIES, SETTINGS
from workflows.arms import Arm
from workflows.presets import budget, pretrain_config, pretrained_encoder, run_config

AUXILIARIES = (*MODALITIES, "random", "none")  # a modality's pretrained encoder, the random control, no pathway


class RunLauncher:
    """Choose the target and auxiliary modality, setting, layers and λ init; *Launch* pretrains the
    encoders the choice needs (once, then reused), fine-tunes, and plots the loss as it is logged.

    ``background=False`` runs in the caller's thread (scripts, tests); the plot still updates.
    """

    def __init__(
        self,
        output_dir: str | Path = "runs/widgets",
        *,
        small: bool = True,
        background: bool = True,
        poll_seconds: float = 1.0,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.small, self.background, self.poll_seconds = small, background, poll_seconds
        self.target = widgets.Dropdown(options=MODALITIES, value="image", description="target")
        self.aux = widgets.Dropdown(options=AUXILIARIES, value="audio", description="auxiliary")
        self.setting = widgets.Dropdown(options=list(SETTINGS), value="from_scratch_tune", description="setting")
        self.layers = widgets.SelectMultiple(options=DEFAULT_LAYERS, value=DEFAULT_LAYERS, description="layers")
        self.lambda_init = widgets.Dropdown(
            options=[(f"{v:g}", v) for v in LAMBDA_INITS], value=0.0, description="λ init"
        )
        self.epochs = widgets.BoundedIntText(value=budget(small).epochs, min=1, max=10_000, description="epochs")
        self.button = widgets.Button(description="Launch", button_style="primary")
        self.status = widgets.HTML("choose, then launch")
        self.plot = widgets.Output()
        self.button.on_click(lambda _: self.launch())
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.target, self.aux, self.setting]),
                widgets.HBox([self.layers, widgets.VBox([self.lambda_init, self.epochs, self.button])]),
                self.status,
                self.plot,
            ]
        )
        self.figure: go.Figure | None = None
        self.watched: Path | None = None  # the run being plotted
        self.result: Path | None = None  # the last finished fine-tuning run
        self._worker: threading.Thread | None = None

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def config(self) -> FinetuneRun:
        """The fine-tuning run the current choices describe, named ``<target>_<aux>_<setting>_<n>``
        (the first free n); encoders are referred to where :meth:`run` puts them."""
        target, aux, setting = self.target.value, self.aux.value, self.setting.value
        if aux != "none" and not self.layers.value:
            raise ValueError("choose at least one layer to re-parameterize")
        stem, n = f"{target}_{aux}_{setting}", 1
        while (self.output_dir / f"{stem}_{n}").exists():
            n += 1
        changes = {"epochs": self.epochs.value, **SETTINGS[setting].overrides()}
        if aux != "none":
            spec = "random" if aux == "random" else str(self._encoder(aux))
            pathway = {"pathway.layers": list(self.layers.value), "pathway.lambda_init": self.lambda_init.value}
            changes |= Arm.parse(aux, {"aux": [spec], "set": pathway}).overrides()
        if SETTINGS[setting].start == "pretrained":
            changes["finetune.init"] = str(self._encoder(target))
        config = run_config(target, small=self.small, output_dir=self.output_dir, name=f"{stem}_{n}")
        return apply_overrides(config, changes)

    def launch(self) -> None:
        """The *Launch* callback: :meth:`run` in a background thread (or here), watched live."""
        if self._worker is not None and self._worker.is_alive():
            self.status.value = "a run is in progress: wait for it to finish"
            return
        if not self.background:
            self.run()
            return
        self._worker = threading.Thread(target=self.run, daemon=True)
        self._worker.start()

    def run(self) -> Path:
        """Pretrain the encoders needed, fine-tune, and return the fine-tuning run folder."""
        self.button.disabled = True
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        try:
            config = self.config()
            needed = {self.aux.value} & set(MODALITIES)
            if SETTINGS[self.setting.value].start == "pretrained":
                needed.add(self.target.value)
            for modality in sorted(needed):
                self.watched = pretrain_config(modality, small=self.small, output_dir=self.output_dir).path()
                self.status.value = f"pretraining the {modality} encoder (reused once it exists) …"
                pretrained_encoder(modality, self.output_dir, small=self.small)
            self.watched = config.path()
            self.status.value = f"fine-tuning {config.name} …"
            summary = run_stage("finetune", config)
            self.result = self.watched
            final = summary["final"]
            self.status.value = (
                f"done: {self.result} — val accuracy {final['val_acc']:.1%}, val loss {final['val_loss']:.3f}"
            )
            return self.result
        except Exception as error:
            self.status.value = f"<b>failed</b>: {html.escape(f'{type(error).__name__}: {error}')}"
            raise
        finally:
            done.set()
            watcher.join()
            self.refresh()
            self.button.disabled = False

    def refresh(self) -> None:
        """Re-plot the watched run's curves from what it has logged so far."""
        if self.watched is None:
            return
        train, _ = metric_records(self.watched)
        self.figure = curves_figure(self.watched, title=f"{self.watched.name}: {len(train)} steps logged")
        render(self.plot, self.figure)

    def _watch(self, done: threading.Event) -> None:
        while not done.wait(self.poll_seconds):
            try:
                self.refresh()
            except ValueError:  # a metrics line half-written: the next tick reads it whole
                pass

    def _encoder(self, modality: str) -> Path:
        return RunDir(
            pretrain_config(modality, small=self.small, output_dir=self.output_dir).path(), writer=False
        ).encoder


class PathwayViewer:
    """A slider over the logged steps of a fine-tuning run and the λ heatmap (layer type x block) at
    the chosen step, on one colour scale for all steps."""

    def __init__(self, run_dir: str | Path, aux: int = 0) -> None:
        self.history = lambda_history(run_dir)
        self.aux = aux
        self.bound = float(abs(self.history.values[..., aux]).max()) or 1.0
        last = len(self.history.steps) - 1
        self.slider = widgets.IntSlider(value=last, min=0, max=last, description="logged step", continuous_update=False)
        self.plot = widgets.Output()
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.widget = widgets.VBox([self.slider, self.plot])
        self.figure: go.Figure | None = None
        self.show(last)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def show(self, index: int) -> None:
        """Plot λ at logged step number ``index`` (the slider's callback)."""
        step, epoch = int(self.history.steps[index]), int(self.history.epochs[index])
        self.figure = lambda_heatmap(
            self.history.at(index, self.aux), title=f"λ per layer at step {step} (epoch {epoch})"
        )
        self.figure.update_traces(zmin=-self.bound, zmax=self.bound)
        render(self.plot, self.figure)


def render(output: widgets.Output, fig: go.Figure) -> None:
    """Replace ``output``'s content by ``fig`` in plotly's notebook formats, safely from any thread
    (one assignment of the widget's synced outputs; no display call into the running cell)."""
    output.outputs = ({"output_type": "display_data", "data": fig._repr_mimebundle_(), "metadata": {}},)
