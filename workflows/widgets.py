"""Notebook widgets: launch a run and watch its loss and progress live; browse λ per layer over training.

The logic is here, not in the notebooks, so that it is testable without a browser: every
control is an attribute, every callback a method, and the latest figure is kept in ``.figure``.
Figures are plotly figures re-rendered into an ``ipywidgets.Output`` (plotly's ``FigureWidget``
needs the ``anywidget`` package, which the workbench does not install). Display a view by
leaving it as the last expression of a cell.

Every widget is made once, in the constructor, and later only changes its values: a browser
reload with the kernel alive then finds every model it displays (JupyterLab restores widgets from
the kernel). Runs started by *Launch* train in a background thread, whose printed output JupyterLab
shows nowhere (it is routed by the message that started it, the click, and kept off other cells);
so the launcher shows a run's progress and its per-epoch log from the records the run writes, set
from the kernel side.
"""

import contextvars
import html
import threading
import traceback
from collections.abc import Callable
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
        size: str = "small",
        background: bool = True,
        poll_seconds: float = 1.0,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.size, self.background, self.poll_seconds = size, background, poll_seconds
        self.target = widgets.Dropdown(options=MODALITIES, value="image", description="target")
        self.aux = widgets.Dropdown(options=AUXILIARIES, value="audio", description="auxiliary")
        self.setting = widgets.Dropdown(options=list(SETTINGS), value="from_scratch_tune", description="setting")
        self.layers = widgets.SelectMultiple(options=DEFAULT_LAYERS, value=DEFAULT_LAYERS, description="layers")
        self.lambda_init = widgets.Dropdown(
            options=[(f"{v:g}", v) for v in LAMBDA_INITS], value=0.0, description="λ init"
        )
        self.epochs = widgets.BoundedIntText(value=budget(size).epochs, min=1, max=10_000, description="epochs")
        self.button = widgets.Button(description="Launch", button_style="primary")
        self.status = widgets.HTML("choose, then launch")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="epochs")
        self.progress_text = widgets.HTML()
        self.log = widgets.Output(layout=widgets.Layout(max_height="16em", overflow="auto"))  # one line an epoch
        self.plot = widgets.Output()
        self.button.on_click(lambda _: self.launch())
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.target, self.aux, self.setting]),
                widgets.HBox([self.layers, widgets.VBox([self.lambda_init, self.epochs, self.button])]),
                self.status,
                widgets.HBox([self.progress, self.progress_text]),
                widgets.Accordion([self.log], titles=("log",), selected_index=0),
                self.plot,
            ]
        )
        self.figure: go.Figure | None = None
        self.watched: Path | None = None  # the run being plotted
        self.watched_epochs = 1  # the epochs that run trains for
        self.result: Path | None = None  # the last finished fine-tuning run
        self._finished: list[Callable[[Path], None]] = []
        self._logged: dict[Path, int] = {}  # epochs of each watched run written to the log
        self._refreshing = threading.Lock()  # the watcher and the run both refresh
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
        config = run_config(target, size=self.size, output_dir=self.output_dir, name=f"{stem}_{n}")
        return apply_overrides(config, changes)

    def on_finished(self, callback: Callable[[Path], None]) -> None:
        """Call ``callback(run_folder)`` after each fine-tuning run this launcher finishes."""
        self._finished.append(callback)

    def launch(self) -> None:
        """The *Launch* callback: :meth:`run` in a background thread (or here), watched live."""
        if self._worker is not None and self._worker.is_alive():
            self.status.value = "a run is in progress: wait for it to finish"
            return
        if not self.background:
            self.run()
            return
        # The thread runs in a copy of this callback's context: the kernel then routes what the run prints
        # by the click (JupyterLab shows it nowhere), not into whichever cell runs next.
        context = contextvars.copy_context()
        self._worker = threading.Thread(target=context.run, args=(self._run_in_background,), daemon=True)
        self._worker.start()

    def run(self) -> Path:
        """Pretrain the encoders needed, fine-tune, and return the fine-tuning run folder; a failure
        is shown in the status line, its traceback in the log area."""
        self.button.disabled = True
        self.log.outputs, self._logged = (), {}
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        try:
            summary = self._train()
        except Exception as error:
            self.status.value = f"<b>failed</b>: {html.escape(f'{type(error).__name__}: {error}')}"
            self.log.append_stderr(traceback.format_exc())
            raise
        finally:
            done.set()
            watcher.join()
            self.refresh()
            self.button.disabled = False
        final = summary["final"]
        self.status.value = (
            f"done: {self.result} — val accuracy {final['val_acc']:.1%}, val loss {final['val_loss']:.3f}"
        )
        for callback in self._finished:
            callback(self.result)
        return self.result

    def _train(self) -> dict:
        config = self.config()
        needed = {self.aux.value} & set(MODALITIES)
        if SETTINGS[self.setting.value].start == "pretrained":
            needed.add(self.target.value)
        for modality in sorted(needed):
            encoder = pretrain_config(modality, size=self.size, output_dir=self.output_dir)
            self.watched, self.watched_epochs = encoder.path(), encoder.epochs
            self.status.value = f"pretraining the {modality} encoder (reused once it exists) …"
            pretrained_encoder(modality, self.output_dir, size=self.size)
            self.refresh()  # its last epochs, before the next run is watched
        self.watched, self.watched_epochs = config.path(), config.epochs
        self.status.value = f"fine-tuning {config.name} …"
        summary = run_stage("finetune", config)
        self.result = self.watched
        return summary

    def _run_in_background(self) -> None:
        try:
            self.run()
        except Exception:  # shown in the status line and the log area
            pass

    def refresh(self) -> None:
        """Re-plot the watched run's curves and progress, and log its new epochs, from what it has logged."""
        if self.watched is None:
            return
        with self._refreshing:
            self._refresh(self.watched)

    def _refresh(self, watched: Path) -> None:
        train, evaluations = metric_records(watched)
        for record in evaluations[self._logged.get(watched, 0) :]:
            metrics = "".join(f", {k} {v:.4f}" for k, v in record.items()
                              if k not in ("step", "epoch") and isinstance(v, float))  # fmt: skip
            self.log.append_stdout(
                f"{watched.name}: epoch {record['epoch']}/{self.watched_epochs} (step {record['step']}){metrics}\n"
            )
        self._logged[watched] = len(evaluations)
        epochs = max((r["epoch"] for r in evaluations), default=0)
        self.progress.max, self.progress.value = self.watched_epochs, epochs
        loss = f", train loss {train[-1]['loss']:.3f}" if train else ""
        step = train[-1]["step"] if train else 0
        self.progress_text.value = html.escape(
            f"{watched.name}: epoch {epochs}/{self.watched_epochs} done, step {step}{loss}"
        )
        self.figure = curves_figure(watched, title=f"{watched.name}: {len(train)} steps logged")
        render(self.plot, self.figure)

    def _watch(self, done: threading.Event) -> None:
        while not done.wait(self.poll_seconds):
            try:
                self.refresh()
            except ValueError:  # a metrics line half-written: the next tick reads it whole
                pass

    def _encoder(self, modality: str) -> Path:
        return RunDir(
            pretrain_config(modality, size=self.size, output_dir=self.output_dir).path(), writer=False
        ).encoder


class PathwayViewer:
    """A picker over the fine-tuning runs with a λ log in a folder, a slider over the chosen run's logged
    steps, and the λ heatmap (layer type x block) at the chosen step, on one colour scale for all steps.

    ``source`` is a run (its folder is searched for the others) or a folder of runs. With ``launcher``
    the viewer follows it: each run the launcher finishes is picked (one without a pathway is noted).
    """

    def __init__(self, source: str | Path, aux: int = 0, *, launcher: RunLauncher | None = None) -> None:
        source = Path(source)
        self.folder = source.parent if _has_lambdas(source) else source
        self.aux = aux
        self.picker = widgets.Dropdown(description="run", layout=widgets.Layout(width="32em"))
        self.slider = widgets.IntSlider(min=0, max=0, description="logged step", continuous_update=False)
        self.note = widgets.HTML()
        self.plot = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.picker, self.slider]), self.note, self.plot])
        self.figure: go.Figure | None = None
        self._picking = False  # True while the viewer itself sets the controls
        self.rescan(keep=source if _has_lambdas(source) else None)
        if self.picker.value is None:
            raise FileNotFoundError(f"no fine-tuning run with a λ log ({RunDir.LAMBDAS}) in {self.folder}")
        self.pick(Path(self.picker.value))
        self.picker.observe(lambda change: self._picking or self.pick(Path(change["new"])), names="value")
        self.slider.observe(lambda change: self._picking or self.show(change["new"]), names="value")
        if launcher is not None:
            launcher.on_finished(self.follow)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def rescan(self, keep: Path | None = None) -> None:
        """List the runs with a λ log under the folder (by name relative to it) plus ``keep``, and choose
        ``keep``, else the current choice, else the run that logged λ last."""
        logs = sorted(self.folder.rglob(RunDir.LAMBDAS), key=lambda log: log.stat().st_mtime)
        runs = {str(log.parent): str(log.parent.relative_to(self.folder)) for log in logs}
        if keep is not None:
            runs.setdefault(str(keep), Path(keep).name)
        chosen = str(keep) if keep is not None else self.picker.value
        if chosen not in runs:
            chosen = next(reversed(runs), None)
        self._picking = True
        self.picker.options = sorted((name, run) for run, name in runs.items())
        self.picker.value = chosen
        self._picking = False

    def follow(self, run: Path) -> None:
        """Pick ``run`` (the launcher's callback when a run finishes); one without a λ log is noted."""
        run = Path(run)
        if not _has_lambdas(run):
            self.note.value = html.escape(f"{run.name} has no pathway (no λ log): still showing {self.run.name}")
            return
        self.rescan(keep=run)
        self.pick(run)

    def pick(self, run: Path) -> None:
        """Show ``run``'s λ history from its last logged step (the picker's callback)."""
        self.history = lambda_history(run)
        self.run = run
        self.bound = float(abs(self.history.values[..., self.aux]).max()) or 1.0
        last = len(self.history.steps) - 1
        self._picking = True  # the slider's new range is not a choice of step
        self.slider.max, self.slider.value = last, last
        self._picking = False
        self.note.value = ""
        self.show(last)

    def show(self, index: int) -> None:
        """Plot λ at logged step number ``index`` (the slider's callback)."""
        step, epoch = int(self.history.steps[index]), int(self.history.epochs[index])
        self.figure = lambda_heatmap(
            self.history.at(index, self.aux), title=f"{self.run.name}: λ per layer at step {step} (epoch {epoch})"
        )
        self.figure.update_traces(zmin=-self.bound, zmax=self.bound)
        render(self.plot, self.figure)


def _has_lambdas(path: Path) -> bool:
    return (path / RunDir.LAMBDAS).is_file()


def render(output: widgets.Output, fig: go.Figure) -> None:
    """Replace ``output``'s content by ``fig`` in plotly's notebook formats, safely from any thread
    (one assignment of the widget's synced outputs; no display call into the running cell)."""
    output.outputs = ({"output_type": "display_data", "data": fig._repr_mimebundle_(), "metadata": {}},)
