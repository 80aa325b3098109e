"""``python -m workflows WORKFLOW [--config FILE] [key=value ...]``: comparisons, experiments, grids.

Rerunning the same command continues where an interrupted workflow stopped.
"""

import argparse
import sys
from pathlib import Path

from m2pt.run_dir import RunDir
from m2pt.train.__main__ import exit_code
from m2pt.train.config import dump_yaml, load_config
from workflows import WORKFLOWS

EPILOG = """\
every setting of a fine-tuning run (python -m m2pt.train --help), and:
  compare.seeds compare.arms compare.reference   executor.kind executor.workers executor.threads executor.slurm
  experiment.auxiliaries experiment.settings experiment.merge_arm
  grid.modalities grid.pretrain grid.pretrain_by_modality grid.references grid.settings grid.settings_by_modality
  budget.pretrain budget.epochs budget.settings budget.share
  verbose (each run's progress bars in the console instead of its log.txt)

examples:
  python -m workflows experiment --config configs/main.yaml
  python -m workflows budget --config configs/mae_budget.yaml
  python -m workflows experiment --config configs/main.yaml executor.kind=processes executor.workers=2
  python -m workflows grid --config configs/grid.yaml executor.kind=slurm executor.slurm='{slurm_partition: gpu}'
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflows", description="Experiments of many runs.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="workflow", required=True, metavar="WORKFLOW")
    for workflow in WORKFLOWS.values():
        one = sub.add_parser(workflow.name, help=workflow.help, description=workflow.help, epilog=EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        one.add_argument("--config", type=Path, help="YAML config file")
        one.add_argument("--show-config", action="store_true", help="print the resolved config and stop")
        one.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    workflow = WORKFLOWS[args.workflow]

    def run() -> None:
        config = load_config(workflow.config, args.config, args.overrides)
        if args.show_config:
            print(dump_yaml(config), end="")
            return
        workflow.run(config)
        report = workflow.report(RunDir(config.path(), writer=False))
        print(f"\n{report.read_text()}\n{workflow.name} results: {report}")

    return exit_code(run)


if __name__ == "__main__":
    sys.exit(main())
