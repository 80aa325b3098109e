"""Cost of the cross-modal pathway: training step, peak memory, and merged inference.

Sizes: a small ViT (dim 192, depth 6, batch 128, 50 tokens) and a ViT-B-width one (dim 768,
depth 2, batch 32, 65 tokens); on a GPU also ViT-B itself (768x12, batch 64, 197 tokens).
Variants, side by side in one run: the plain model; the pathway (``CrossModalLinear``) with
``W'`` trainable and frozen; the floor, the plain step plus AdamW on tensors of ``W'``'s size
(the optimizer work the trainable pathway cannot avoid); and the peer, the paper's form
``F.linear(x, W + λW', b)`` differentiated op by op by autograd. A training step is forward,
backward and fused AdamW; on a GPU under bf16 autocast.

Timing: the variants interleaved step by step (order reversed every other step), in several
windows; a variant's time is its median in a window and the best window is kept; a warning is
printed when a variant's windows disagree by more than 10% (the machine was busy). On CPU every
timing is taken with the default threads and again with one (``torch.set_num_threads(1)``),
which holds when another process takes a core: a parallel region of two threads then waits for
the one that lost its core, and the pathway adds a few such regions per layer.

Peak memory of building a variant and three training steps: CUDA's allocator peak on a GPU; on
CPU the peak of the CPU allocator's live bytes (every tensor allocation and free, recorded by
torch.profiler). Budgets: plain + ``W'`` + AdamW's two moments of ``W'`` (trainable), plain +
``W'`` (frozen).

Targets: step <= 1.02x plain with ``W'`` trainable, <= 1.01x frozen; memory within its budget;
merged inference 1.00x. Inference is timed over three times as many steps. What stands between
the pathway and its floor is memory traffic, not arithmetic: per step it streams about 40 bytes
per parameter of ``W'`` (the sum formed in forward and again in backward, 12 each; ``λ g_W``, 8;
``<g_W, W'>``, 8), the paper's form about 36 (it keeps the sum instead of forming it again, and
reads a full-size temporary for ``g_λ``), against roughly 12 k flops per parameter of matmul at
ViT-B width and batch 32.

The CPU allocator is set as the trainer sets it (:mod:`m2pt.train.allocator`: freed memory
kept in the process); ``--glibc-defaults`` measures with glibc's defaults, under which every
step faults its large buffers in again.

    python benchmarks/reparam_overhead.py [--device cuda] [--steps 5] [--windows 3] [--glibc-defaults]
"""

import argparse
import contextlib
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer
from torch.profiler import ProfilerActivity, profile

from m2pt import CrossModalLinear, cross_modal_layers, merge, reparameterize
from m2pt.train.allocator import keep_freed_memory

SIZES = {
    "small (192x6, b128, 50 tok)": dict(embed_dim=192, depth=6, num_heads=3, img_size=112, batch=128),
    "ViT-B width (768x2, b32, 65 tok)": dict(embed_dim=768, depth=2, num_heads=12, img_size=128, batch=32),
}
GPU_SIZES = {"ViT-B (768x12, b64, 197 tok)": dict(embed_dim=768, depth=12, num_heads=12, img_size=224, batch=64)}
DISAGREEMENT = 0.10  # windows further apart than this get a warning


class PaperForm(CrossModalLinear):
    """The peer: the same parameters, the paper's expression left to autograd op by op."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.merged_weight(), self.bias)


@dataclass(frozen=True)
class Variant:
    pathway: bool = False
    aux_trainable: bool = True
    layer: type[CrossModalLinear] = CrossModalLinear
    optimizer_floor: bool = False  # plain model + AdamW on W'-sized tensors
    budget_copies: int | None = None  # memory budget: plain + this many copies of W'


VARIANTS = {
    "plain": Variant(),
    "m2pt": Variant(pathway=True, budget_copies=3),
    "m2pt, aux frozen": Variant(pathway=True, aux_trainable=False, budget_copies=1),
    "floor (plain+AdamW W')": Variant(optimizer_floor=True),
    "paper form": Variant(pathway=True, layer=PaperForm),
}
TARGETS = {"m2pt": 1.02, "m2pt, aux frozen": 1.01}


def vit(size: dict) -> VisionTransformer:
    return VisionTransformer(patch_size=16, num_classes=10, **{k: v for k, v in size.items() if k != "batch"})


def build(size: dict, variant: Variant, device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = vit(size)
    if variant.pathway:
        reparameterize(model, vit(size), lambda_init=0.01, aux_trainable=variant.aux_trainable)
        for layer in cross_modal_layers(model).values():
            layer.__class__ = variant.layer
    return model.to(device)


def aux_bytes(size: dict) -> int:
    """Bytes of all the auxiliary weights W' of a re-parameterized model of this size."""
    model = reparameterize(vit(size), vit(size))
    return sum(p.numel() * p.element_size() for n, p in model.named_parameters() if ".aux_weights." in n)


class Trainer:
    """One variant's model and fused AdamW; ``step()`` runs one training step."""

    def __init__(self, size: dict, variant: Variant, device: str) -> None:
        self.model = build(size, variant, device).train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=1e-4, fused=True)
        self.extra = None
        if variant.optimizer_floor:  # W'-shaped tensors with gradients, stepped by their own AdamW
            shaped = reparameterize(vit(size), vit(size))
            extra = [torch.nn.Parameter(torch.randn_like(layer.weight, device=device))
                     for layer in cross_modal_layers(shaped).values()]  # fmt: skip
            for p in extra:
                p.grad = torch.randn_like(p) * 1e-3
            self.extra = torch.optim.AdamW(extra, lr=1e-4, fused=True)
        self.device = device
        torch.manual_seed(1)
        self.images = torch.randn(size["batch"], 3, size["img_size"], size["img_size"], device=device)
        self.labels = torch.randint(0, 10, (size["batch"],), device=device)

    def step(self) -> None:
        with autocast(self.device):
            loss = F.cross_entropy(self.model(self.images), self.labels)
        loss.backward()
        self.optimizer.step()
        if self.extra is not None:
            self.extra.step()
        self.optimizer.zero_grad(set_to_none=True)


def autocast(device: str):
    """bf16 autocast on a GPU; float32 on CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else contextlib.nullcontext()


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def alternate(items: list, step: int) -> list:
    """``items`` in order on even steps, reversed on odd ones."""
    return items if step % 2 == 0 else items[::-1]


def time_windows(runs: dict[str, Callable[[], None]], device: str, steps: int, windows: int) -> dict[str, list[float]]:
    """Seconds per call of each run: its median in each of ``windows`` windows of ``steps``
    interleaved calls (two more calls first, untimed, to warm up)."""
    medians = {name: [] for name in runs}
    for _ in range(2):
        for run in runs.values():
            run()
    for _ in range(windows):
        times = {name: [] for name in runs}
        for step in range(steps):
            for name, run in alternate(list(runs.items()), step):
                sync(device)
                start = time.perf_counter()
                run()
                sync(device)
                times[name].append(time.perf_counter() - start)
        for name, values in times.items():
            medians[name].append(statistics.median(values))
    return medians


def disagreement(windows: list[float]) -> float:
    """How far a variant's window medians are apart: max / min - 1."""
    return max(windows) / min(windows) - 1


@contextlib.contextmanager
def threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def peak_memory_mib(size: dict, variant: Variant, device: str) -> float:
    """Peak allocated memory (MiB) of building the variant and running three training steps."""
    gc.collect()
    if device == "cpu":
        return cpu_allocator_peak_mib(size, variant)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    three_steps(size, variant, device)
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def cpu_allocator_peak_mib(size: dict, variant: Variant) -> float:
    """The peak of the CPU allocator's live bytes (MiB) over :func:`three_steps`, from the
    allocations and frees torch.profiler records."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        three_steps(size, variant, "cpu")
    changes = sorted(
        (e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"
    )
    live = peak = 0
    for _, nbytes in changes:  # allocations positive, frees negative, in time order
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20


def three_steps(size: dict, variant: Variant, device: str) -> None:
    trainer = Trainer(size, variant, device)
    for _ in range(3):
        trainer.step()


@torch.no_grad()
def inference(size: dict, device: str, steps: int, windows: int) -> tuple[dict[str, list[float]], float]:
    """Window medians of plain vs merged inference, and max |merged - unmerged output|."""
    plain = build(size, VARIANTS["plain"], device).eval()
    pathway = build(size, VARIANTS["m2pt"], device).eval()
    for layer in cross_modal_layers(pathway).values():
        layer.lambdas.uniform_(-0.1, 0.1)
    merged = merge(pathway)
    images = torch.randn(size["batch"], 3, size["img_size"], size["img_size"], device=device)
    with autocast(device):
        diff = (merged(images) - pathway(images)).abs().max().item()
        times = time_windows({"plain": lambda: plain(images), "merged": lambda: merged(images)}, device, steps, windows)
    return times, diff


def report_size(name: str, size: dict, device: str, steps: int, windows: int, warnings: list[str]) -> None:
    trainers = {v: Trainer(size, variant, device) for v, variant in VARIANTS.items()}
    thread_counts = sorted({torch.get_num_threads(), 1}, reverse=True) if device == "cpu" else [None]
    print(f"\n{name}")
    for n in thread_counts:
        with threads(n) if n else contextlib.nullcontext():
            step = time_windows({v: t.step for v, t in trainers.items()}, device, steps, windows)
        label = f"{n} thread{'s' if n > 1 else ''}" if n else device
        print(f"  training step, {label}: best window median, ratio to plain, windows (ms)")
        best_plain = min(step["plain"])
        for v, values in step.items():
            ratio = min(values) / best_plain
            target = f"  (target <= {TARGETS[v]:.2f})" if v in TARGETS else ""
            spread = " ".join(f"{x * 1e3:.0f}" for x in values)
            print(f"    {v:<24}{min(values) * 1e3:>9.1f} ms {ratio:>7.3f}x   [{spread}]{target}")
            if disagreement(values) > DISAGREEMENT:
                warnings.append(f"{name}, {label}, {v}: windows {spread} ms disagree by {disagreement(values):.0%}")
    del trainers

    memory = {v: peak_memory_mib(size, variant, device) for v, variant in VARIANTS.items()}
    aux_mib = aux_bytes(size) / 2**20
    print(f"  peak memory (MiB), W' = {aux_mib:.1f} MiB")
    for v, variant in VARIANTS.items():
        line = f"    {v:<24}{memory[v]:>9.1f} {memory[v] / memory['plain']:>7.3f}x"
        if variant.budget_copies:
            budget = memory["plain"] + variant.budget_copies * aux_mib
            line += f"   budget plain + {variant.budget_copies} W' = {budget:.1f}, peak - budget {(memory[v] - budget) * 1024:+.0f} KiB"
        print(line)

    times, diff = inference(size, device, 3 * steps, windows)
    plain_inf, merged_inf = min(times["plain"]), min(times["merged"])
    print(
        f"  inference: plain {plain_inf * 1e3:.1f} ms, merged {merged_inf * 1e3:.1f} ms, ratio "
        f"{merged_inf / plain_inf:.3f} (target 1.00); merged vs unmerged max |diff| {diff:.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per window")
    parser.add_argument("--windows", type=int, default=3, help="windows per timing (the best is kept)")
    parser.add_argument("--glibc-defaults", action="store_true",
                        help="keep glibc's allocator defaults instead of the trainer's (m2pt.train.allocator)")  # fmt: skip
    args = parser.parse_args()
    if args.steps < 1 or args.windows < 1:
        parser.error("--steps and --windows must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    kept = not args.glibc_defaults and keep_freed_memory()
    allocator = "freed memory kept, as in training" if kept else "C library defaults"
    print(
        f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, allocator: {allocator}"
    )
    sizes = {**SIZES, **GPU_SIZES} if args.device == "cuda" else SIZES
    warnings: list[str] = []
    for name, size in sizes.items():
        report_size(name, size, args.device, args.steps, args.windows, warnings)
    advice = "the machine was busy; trust the one-thread ratios" if args.device == "cpu" else "the device was shared"
    for warning in warnings:
        print(f"\nWARNING: {warning}: {advice}")
    print("\ntargets: training step <= 1.02x plain (W' trainable), <= 1.01x (frozen); memory within budget; "
          "merged inference 1.00x")  # fmt: skip


if __name__ == "__main__":
    main()
