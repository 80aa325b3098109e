"""Cost of the cross-modal pathway: training step, peak memory, and merged inference.

For a small ViT (dim 192, depth 6, batch 128, 50 tokens) and a ViT-B-width one (dim 768,
depth 2, batch 32, 65 tokens) it times, side by side in one run, a training step (forward,
backward, fused AdamW) of the plain model and of the re-parameterized model with the auxiliary
weights trainable and frozen, and inference of the merged model against the plain one.
Ratios are to the plain model measured in the same run. Peak memory: CUDA's allocator peak on a
GPU; on CPU the peak resident memory of a fresh process per variant, above its imports.

Targets: training step at most 1.10x the plain model; merged inference 1.00x. The pathway's
extra work (forming ``W + λ W'``, the gradients of ``λ`` and ``W'``, AdamW on ``W'``) grows with
the parameter count, not the token count: with few tokens per step (e.g. batch 16 at ViT-B
width on CPU) the step is optimizer-bound and the ratio rises (1.12x measured there).
Inference is timed over three times as many steps, since the two models are the same.

    python benchmarks/reparam_overhead.py [--device cuda] [--steps 10]
"""

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time

import torch
from timm.models.vision_transformer import VisionTransformer

from m2pt import merge, reparameterize

SIZES = {
    "small (192x6, b128, 50 tok)": dict(embed_dim=192, depth=6, num_heads=3, img_size=112, batch=128),
    "ViT-B width (768x2, b32, 65 tok)": dict(embed_dim=768, depth=2, num_heads=12, img_size=128, batch=32),
}
VARIANTS = ("plain", "m2pt", "m2pt, aux frozen")


def build(size: dict, variant: str, device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    dims = {k: v for k, v in size.items() if k != "batch"}
    model = VisionTransformer(patch_size=16, num_classes=10, **dims)
    if variant != "plain":
        reparameterize(model, VisionTransformer(patch_size=16, num_classes=10, **dims),
                       lambda_init=0.01, aux_trainable=variant == "m2pt")  # fmt: skip
    return model.to(device)


def training_step(model, optimizer, images, labels) -> None:
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def batch(size: dict, device: str):
    images = torch.randn(size["batch"], 3, size["img_size"], size["img_size"], device=device)
    return images, torch.randint(0, 10, (size["batch"],), device=device)


def time_training(size: dict, device: str, steps: int) -> dict[str, float]:
    """Median seconds per training step of each variant, interleaved step by step (the order
    reversed every other step, so no variant always runs first)."""
    runs = {}
    for variant in VARIANTS:
        model = build(size, variant, device).train()
        params = [p for p in model.parameters() if p.requires_grad]
        runs[variant] = (model, torch.optim.AdamW(params, lr=1e-4, fused=True))
    images, labels = batch(size, device)
    times = {v: [] for v in VARIANTS}
    for step in range(steps + 2):
        for variant, (model, optimizer) in alternate(list(runs.items()), step):
            sync(device)
            start = time.perf_counter()
            training_step(model, optimizer, images, labels)
            sync(device)
            if step >= 2:  # warm-up
                times[variant].append(time.perf_counter() - start)
    return {v: statistics.median(t) for v, t in times.items()}


def alternate(items: list, step: int) -> list:
    """``items`` in order on even steps, reversed on odd ones."""
    return items if step % 2 == 0 else items[::-1]


@torch.no_grad()
def time_inference(size: dict, device: str, steps: int) -> tuple[float, float, float]:
    """(plain s, merged s, max |difference| of the merged model's outputs vs unmerged)."""
    plain = build(size, "plain", device).eval()
    pathway = build(size, "m2pt", device).eval()
    for layer in pathway.modules():
        if hasattr(layer, "lambdas"):
            layer.lambdas.uniform_(-0.1, 0.1)
    merged = merge(pathway)
    images, _ = batch(size, device)
    diff = (merged(images) - pathway(images)).abs().max().item()
    times = {"plain": [], "merged": []}
    for step in range(steps + 2):
        for name, model in alternate([("plain", plain), ("merged", merged)], step):
            sync(device)
            start = time.perf_counter()
            model(images)
            sync(device)
            if step >= 2:
                times[name].append(time.perf_counter() - start)
    return statistics.median(times["plain"]), statistics.median(times["merged"]), diff


def peak_memory_mb(size_name: str, variant: str, device: str) -> float:
    """Peak memory of three training steps of one variant, in MiB."""
    if device == "cuda":
        size = SIZES[size_name]
        model = build(size, variant, device).train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], fused=True)
        images, labels = batch(size, device)
        torch.cuda.reset_peak_memory_stats()
        for _ in range(3):
            training_step(model, optimizer, images, labels)
        return torch.cuda.max_memory_allocated() / 2**20
    args = [sys.executable, __file__, "--rss-of", json.dumps([size_name, variant])]
    return float(subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip())


def rss_of(size_name: str, variant: str) -> None:
    """Child process: print the peak resident memory (MiB) of building the variant and running
    three training steps, above the process's memory after its imports."""

    def status(field: str) -> int:
        line = next(ln for ln in open("/proc/self/status") if ln.startswith(field))
        return int(line.split()[1])  # KiB

    baseline = status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    size = SIZES[size_name]
    images, labels = batch(size, "cpu")
    model = build(size, variant, "cpu").train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], fused=True)
    for _ in range(3):
        training_step(model, optimizer, images, labels)
    print((status("VmHWM:") - baseline) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rss-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_of:
        return rss_of(*json.loads(args.rss_of))
    print(f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    for size_name, size in SIZES.items():
        step = time_training(size, args.device, args.steps)
        memory = {v: peak_memory_mb(size_name, v, args.device) for v in VARIANTS}
        plain_inf, merged_inf, diff = time_inference(copy.deepcopy(size), args.device, 3 * args.steps)
        print(f"\n{size_name}")
        print(f"  {'variant':<18}{'step ms':>10}{'x plain':>9}{'peak MiB':>10}{'x plain':>9}")
        for variant in VARIANTS:
            print(
                f"  {variant:<18}{step[variant] * 1e3:>10.1f}{step[variant] / step['plain']:>9.3f}"
                f"{memory[variant]:>10.0f}{memory[variant] / max(memory['plain'], 1e-9):>9.2f}"
            )
        print(
            f"  inference: plain {plain_inf * 1e3:.1f} ms, merged {merged_inf * 1e3:.1f} ms, "
            f"ratio {merged_inf / plain_inf:.3f} (target 1.00); merged vs unmerged max |diff| {diff:.2e}"
        )
    print("\ntargets: training step <= 1.10x plain; merged inference 1.00x")


if __name__ == "__main__":
    main()
