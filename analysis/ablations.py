"""Ablations of the pathway, each a comparison the trainer runs (baseline included).

- :func:`layer_arms`: which linear layers are re-parameterized: qkv, proj, fc1, fc2 alone, and all.
- :func:`lambda_arms`: λ's initial value (0, 1e-2, 1e-4, 1e-6), trained or fixed.
- :func:`aux_epoch_arms`: auxiliary encoders saved at successive epochs of one pretraining run.
- :func:`control_arms`: the auxiliary against controls the paper lacks, a randomly initialised
  "auxiliary" and the auxiliary's own weights shuffled: the same extra parameters and weight
  scale without cross-modal knowledge. A gain that a control matches is not knowledge transfer.

Run each with :func:`analysis.arms.run_arms`; :func:`ablation_markdown` and
:func:`ablation_figure` present several at once.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.arms import Arms, pathway_arm
from analysis.comparisons import interval_trace
from m2pt import DEFAULT_LAYERS, read_metadata
from m2pt.comparison import Comparison

LAYER_CHOICES: dict[str, list[str]] = {
    "qkv": ["attn.qkv"],
    "proj": ["attn.proj"],
    "fc1": ["mlp.fc1"],
    "fc2": ["mlp.fc2"],
    "all": list(DEFAULT_LAYERS),
}
LAMBDA_INITS = (0.0, 1e-2, 1e-4, 1e-6)
CONTROLS = ("random", "shuffled")


def layer_arms(aux: str) -> Arms:
    """Baseline, and the pathway on each layer type alone (``layers_qkv``, ...) and on all (``layers_all``)."""
    return {"baseline": {}} | {
        f"layers_{name}": pathway_arm(aux, layers=layers) for name, layers in LAYER_CHOICES.items()
    }


def lambda_arms(aux: str, inits: Sequence[float] = LAMBDA_INITS, trainable: Sequence[bool] = (True, False)) -> Arms:
    """Baseline, and one arm per initial λ and trainability: ``init0.0001_trained``, ``init0.01_fixed``, ...

    ``init0_fixed`` computes exactly the baseline's function (λ stays 0): a check of the set-up.
    """
    arms: Arms = {"baseline": {}}
    for init in inits:
        for train in trainable:
            name = f"init{init:g}_{'trained' if train else 'fixed'}"
            arms[name] = pathway_arm(aux, lambda_init=init, lambda_trainable=train)
    return arms


def aux_epoch_arms(pretrain_run: str | Path) -> Arms:
    """Baseline, and one arm ``epoch<N>`` per encoder a pretraining run saved (``encoder_epoch<N>`` and
    the final ``encoder``), in epoch order."""
    by_epoch: dict[int, Path] = {}
    for path in sorted(Path(pretrain_run).glob("encoder*.safetensors")):
        by_epoch.setdefault(int(read_metadata(path)["epoch"]), path)
    if not by_epoch:
        raise FileNotFoundError(f"{pretrain_run} holds no encoder*.safetensors: is it a finished pretraining run?")
    return {"baseline": {}} | {f"epoch{epoch}": pathway_arm(str(by_epoch[epoch])) for epoch in sorted(by_epoch)}


def control_arms(aux: str, controls: Sequence[str] = CONTROLS, *, same_modality: str | None = None) -> Arms:
    """Baseline, ``m2pt`` (the auxiliary ``aux``) and each control: ``random``, ``shuffled`` (of ``aux``),
    ``norm_matched`` (random weights at ``aux``'s norms); see :mod:`m2pt.controls`. With ``same_modality``
    (an encoder pretrained on the target modality's own training data) also that positive reference."""
    specs = {"random": "random", "shuffled": f"shuffled:{aux}", "norm_matched": f"norm_matched:{aux}"}
    unknown = set(controls) - set(specs)
    if unknown:
        raise ValueError(f"unknown control(s) {sorted(unknown)}; choose from {sorted(specs)}")
    reference = {"same_modality": pathway_arm(same_modality)} if same_modality else {}
    return {"baseline": {}, "m2pt": pathway_arm(aux)} | {c: pathway_arm(specs[c]) for c in controls} | reference


def ablation_rows(comparisons: Mapping[str, Comparison]) -> list[dict[str, Any]]:
    """One row per (ablation, arm): mean, std, interval, paired difference from the baseline and beyond
    the best control (see :meth:`Comparison.rows`)."""
    return [{"ablation": name} | row for name, comparison in comparisons.items() for row in comparison.rows()]


def ablation_markdown(comparisons: Mapping[str, Comparison], scale: float = 100.0) -> str:
    """Every ablation's table (mean ± std, 95% interval, paired differences), one section each."""
    return "\n\n".join(f"### {name}\n\n{comparison.markdown(scale)}" for name, comparison in comparisons.items())


def ablation_figure(
    comparisons: Mapping[str, Comparison], scale: float = 100.0, title: str = "Ablations: paired Δ vs baseline"
) -> go.Figure:
    """One panel per ablation: each arm's paired difference from the baseline with its 95% interval
    (controls in grey), on a shared axis, with zero marked."""
    sizes = [max(len(c.scores) - 1, 1) for c in comparisons.values()]
    fig = make_subplots(rows=len(sizes), cols=1, shared_xaxes=True, subplot_titles=list(comparisons), row_heights=sizes)
    legend: set[str] = set()
    for index, comparison in enumerate(comparisons.values(), start=1):
        arms = [a for a in comparison.scores if a != comparison.reference]
        for kind, color in (("pathway", "black"), ("control", "grey")):
            chosen = [a for a in arms if (a in comparison.controls) == (kind == "control")]
            if chosen:
                trace = interval_trace(chosen, [comparison.versus(a) for a in chosen], chosen, scale, kind, color=color)
                fig.add_trace(trace.update(legendgroup=kind, showlegend=kind not in legend), index, 1)
                legend.add(kind)
        fig.update_yaxes(autorange="reversed", row=index, col=1)
        fig.add_vline(x=0, line={"dash": "dot", "color": "grey"}, row=index, col=1)
    unit = " (points)" if scale == 100 else ""
    fig.update_xaxes(title_text=f"paired Δ vs baseline{unit}", row=len(comparisons), col=1)
    fig.update_layout(title=title, height=140 + sum(60 + 28 * n for n in sizes))
    return fig
