"""``python -m m2pt.train STAGE [--config FILE] [--resume RUN] [key=value ...]``: one run."""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from m2pt.atomic import WriteError
from m2pt.checkpoint import CheckpointError
from m2pt.run_dir import RunDir, RunFolderBusy
from m2pt.train.config import ConfigError, apply_overrides, dump_yaml, load_config
from m2pt.train.engine import TrainingDiverged
from m2pt.train.stages import STAGES
from m2pt.train.stages.merge import MergeVerificationError

EPILOG = """\
settings (key=value overrides, values parsed as YAML; `show-config STAGE` prints them all):
  data.dataset data.size data.batch_size data.train_limit   model.modality model.size model.options.*
  pathway.aux pathway.layers pathway.block_map pathway.lambda_init pathway.lambda_lr_scale pathway.aux_trainable
  optim.lr optim.weight_decay optim.warmup_epochs optim.layer_decay optim.clip_grad optim.accum_steps
  finetune.start finetune.init finetune.mode   pretrain.mask_ratio pretrain.save_epochs
  optim.mixup optim.cutmix optim.label_smoothing optim.ema_decay   data.options.transform (timm create_transform)
  evaluation.clips evaluation.crops evaluation.votes (evaluate)   checkpoint_every checkpoint_minutes
  epochs eval_every seed device precision compile threads verbose name output_dir   source (merge, evaluate)

examples:
  python -m m2pt.train pretrain data.dataset=spoken_digits model.modality=audio epochs=5 name=aux
  python -m m2pt.train finetune pathway.aux=[runs/aux/encoder.safetensors] epochs=10 name=m2pt
  python -m m2pt.train merge source=runs/m2pt
  torchrun --nproc_per_node=2 -m m2pt.train finetune --config configs/paper/image_imagenet.yaml
  python -m m2pt.train finetune --resume runs/m2pt
comparisons, experiments and grids of many runs: python -m workflows --help
"""


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m m2pt.train",
        description="Pretraining, M2PT fine-tuning, merging and evaluation: one run each.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage in STAGES.values():
        sub = stages.add_parser(stage.name, help=stage.help, description=stage.help, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        sub.add_argument("--config", type=Path, help="YAML config file")
        sub.add_argument("--resume", type=Path, metavar="RUN", help="continue the run in this folder")
        sub.add_argument("overrides", nargs="*", metavar="key=value")
    show = stages.add_parser("show-config", help="print every setting of a stage with its default value")
    show.add_argument("of", choices=sorted(STAGES), metavar="STAGE", nargs="?", default="finetune")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.stage == "show-config":
        print(dump_yaml(STAGES[args.of].config()), end="")
        return 0
    stage = STAGES[args.stage]

    def run() -> None:
        if args.resume:
            if args.config:
                raise ConfigError("--resume takes the run's own config.yaml; do not pass --config")
            config = load_config(stage.config, RunDir(args.resume, writer=False).config_file, args.overrides)
            config = apply_overrides(config, {"output_dir": str(args.resume.parent), "name": args.resume.name})
        else:
            config = load_config(stage.config, args.config, args.overrides)
        stage.run(config, args.resume is not None)

    return exit_code(run)


def exit_code(action: Callable[[], None]) -> int:
    """Run ``action``; what a command line returns: 0, 2 for what the user can fix (a setting, a file,
    a busy or full folder), 1 for a run that stopped (diverged, a merge that failed its check)."""
    try:
        action()
    except (ConfigError, CheckpointError, FileNotFoundError, RunFolderBusy, WriteError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (TrainingDiverged, MergeVerificationError) as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
