"""``budget``: how long to pretrain a masked autoencoder, read off a measured curve.

1. Pretrain one encoder (``budget.pretrain`` on top of the config) for the last of
   ``budget.epochs``, saving it after each of the others (``pretrain.save_epochs``), in
   ``<budget>/aux/mae``; cached like every encoder (:mod:`workflows.encoder_cache`).
2. For each setting of ``budget.settings`` (e.g. tune and fix), fine-tune the target from scratch
   and from each saved encoder (:func:`workflows.designs.init_epoch_arms`) over ``compare.seeds``
   in ``<budget>/<setting>``.
3. ``budget.md``: per epoch the reconstruction loss and each setting's init gain
   (:mod:`analysis.mae_budget`), and the budget chosen, the fewest epochs whose gain in the first
   setting reaches ``budget.share`` of the largest; the figure ``figures/mae_budget.html``.
"""

from analysis.figures import save_figure
from analysis.mae_budget import BudgetPoint, budget_curve, budget_figure, budget_markdown, chosen_budget
from m2pt.run_dir import RunDir
from m2pt.train.config import ConfigError, project
from workflows.compare import compare, write_workflow_files
from workflows.config import BudgetConfig, CompareConfig
from workflows.designs import init_epoch_arms
from workflows.experiment import train_auxiliaries

MAE = "mae"  # the auxiliary name of the pretraining run


def budget(config: BudgetConfig) -> list[BudgetPoint]:
    epochs = sorted(set(config.budget.epochs))
    if not config.budget.settings:
        raise ConfigError("budget.settings needs at least one setting (e.g. {tune: {}})")
    root = write_workflow_files(config)
    changes = {**config.budget.pretrain, "epochs": epochs[-1], "pretrain.save_epochs": epochs[:-1]}
    train_auxiliaries(config, root, {MAE: changes}, config.compare.seeds)
    arms = init_epoch_arms(root.auxiliary(MAE))
    comparisons = {
        setting: compare(
            project(
                config,
                CompareConfig,
                {**overrides, "output_dir": str(root.path), "name": setting, "compare.arms": arms},
            )
        )  # fmt: skip
        for setting, overrides in config.budget.settings.items()
    }
    curve = budget_curve(root.auxiliary(MAE), comparisons)
    first = next(iter(comparisons))
    chosen = chosen_budget(curve, first, config.budget.share)
    figures = save_figure(budget_figure(curve, chosen=chosen), root.figures / "mae_budget")
    text = "\n".join([
        f"# Pretraining budget {root.path.name}", "",
        f"Masked autoencoder: {config.model.modality} ({config.budget.pretrain.get('data.dataset', config.data.dataset)}), "
        f"model {config.model.size}, saved after epochs {epochs}; target fine-tuned for {config.epochs} epochs.", "",
        budget_markdown(curve),
        f"Chosen: **{chosen} epochs**, the fewest whose init gain in {first} reaches {config.budget.share:.0%} of the "
        "largest measured.", "",
        "Figure: " + ", ".join(str(p.relative_to(root.path)) for p in figures if p.suffix == ".html"), "",
    ])  # fmt: skip
    root.write_text(RunDir.BUDGET_REPORT, text)
    return curve
