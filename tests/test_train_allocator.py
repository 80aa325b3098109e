"""The trainer's allocator setting: freed memory stays in the process, so a step's buffers are not faulted in again."""

import platform
import subprocess
import sys

import pytest

PATHWAY_STEPS = """
import resource
import torch
from torch import nn
from m2pt import CrossModalLinear
from m2pt.train.allocator import keep_freed_memory
kept = keep_freed_memory()
torch.manual_seed(0)
layers = [nn.Linear(768, 3072), nn.Linear(3072, 768)]
model = nn.Sequential(*(CrossModalLinear(layer, [torch.randn_like(layer.weight)]) for layer in layers))
optimizer = torch.optim.AdamW(model.parameters(), fused=True)
x = torch.randn(512, 768)
for step in range(10):
    if step == 3:  # after warm-up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model(x).square().mean().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")


def faults_of_seven_steps(switch: str) -> tuple[bool, int]:
    """Whether the setting was made, and the minor page faults of seven training steps (after three)
    of two ViT-B-width MLP linears with the pathway."""
    env = {"M2PT_KEEP_FREED_MEMORY": switch, "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", PATHWAY_STEPS], capture_output=True, text=True, env=env, check=True)
    kept, faults = out.stdout.split()
    return kept == "True", int(faults)


@glibc_only
def test_training_steps_reuse_kept_memory_without_page_faults():
    kept, with_setting = faults_of_seven_steps("1")
    switched_off, with_defaults = faults_of_seven_steps("0")
    assert kept and not switched_off
    weight_pages = 768 * 3072 * 4 // 4096
    assert with_setting < 7 * weight_pages  # less than one weight's pages a step (measured: 0.1-0.3 of one)
    assert with_defaults > 4 * with_setting  # measured: 5-13x
