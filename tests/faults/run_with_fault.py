"""Run ``python -m m2pt.train`` with a fault: the process kills itself (SIGKILL) at a chosen point.

    python tests/faults/run_with_fault.py POINT N  finetune key=value ...

POINT is where, N which occurrence (1-based):
  during_checkpoint   half-way through writing the N-th ``last`` checkpoint (its temporary file)
  before_checkpoint   just before the N-th ``last`` checkpoint is written (the epoch's records are)
  after_checkpoint    just after the N-th ``last`` checkpoint is written
  before_first        at the N-th training record, before any checkpoint exists
  at_step             just after the training record of optimizer step N (mid-epoch with checkpoint_every)
The fault is injected by wrapping the project's own functions here, so the project has no fault hooks.
"""

import io
import os
import signal
import sys

import torch

from m2pt.run_dir import RunDir
from m2pt.train.__main__ import main


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str, n: int) -> None:
    calls = {"count": 0}
    save_state, log, torch_save = RunDir.save_state, RunDir.log, torch.save

    def counting(path) -> bool:
        if path.name != RunDir.LAST:
            return False
        calls["count"] += 1
        return calls["count"] == n

    if point in ("before_checkpoint", "after_checkpoint"):

        def faulty_save_state(self, state, path):
            hit = counting(path)
            if hit and point == "before_checkpoint":
                die()
            save_state(self, state, path)
            if hit and point == "after_checkpoint":
                die()

        RunDir.save_state = faulty_save_state
    elif point == "during_checkpoint":

        def faulty_save_state(self, state, path):
            if counting(path):

                def half_then_die(obj, tmp):
                    buffer = io.BytesIO()
                    torch_save(obj, buffer)
                    with open(tmp, "wb") as f:
                        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
                    die()

                torch.save = half_then_die
            save_state(self, state, path)

        RunDir.save_state = faulty_save_state
    elif point == "before_first":

        def faulty_log(self, record, file=None):
            log(self, record, file)
            if record.get("split") == "train" and not self.last.exists():
                calls["count"] += 1
                if calls["count"] == n:
                    die()

        RunDir.log = faulty_log
    elif point == "at_step":

        def faulty_log(self, record, file=None):
            log(self, record, file)
            if record.get("split") == "train" and record["step"] == n:
                die()

        RunDir.log = faulty_log
    else:
        raise SystemExit(f"unknown fault point {point!r}")


if __name__ == "__main__":
    install(sys.argv[1], int(sys.argv[2]))
    sys.exit(main(sys.argv[3:]))
