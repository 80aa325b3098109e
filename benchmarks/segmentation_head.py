"""Cost of the segmentation heads relative to the encoder: training step and inference.

For part segmentation (point model, Point-MAE-style propagation head, the 7 categories and 24
parts of the built-in ``part_shapes``) and semantic segmentation (image model, progressive
upsampling decoder, 11 classes as ``digit_scenes``), it times side by side in one run a
training step (forward, backward, fused AdamW) and a forward pass of the segmentation model and
of the same encoder with a plain classification head (the encoder step), on random inputs of
the dataset's shape. Ratios are to the encoder step measured in the same run, steps of the two
interleaved (the order reversed every other step). Also printed: the head's share of the
parameters, and the merged segmentation M2PT model's max |difference| to the unmerged one.

Measured at tiny size on 2 shared CPU cores (2026-12-01, noisy: other jobs held the cores):
part segmentation 2.3-2.6x the encoder's training step and 1.4-2.2x its inference (1,024 points
a cloud get the head's MLP, against 64 tokens in the encoder; its dropout alone took a quarter
of the step on CPU), semantic segmentation 1.6-2.0x and 1.4-1.9x (the decoder's 3x3 convs at
16x16 and 32x32 outweigh a 4-block, 96-wide encoder). Merged vs unmerged: max |diff| 0.

    python benchmarks/segmentation_head.py [--device cuda] [--size tiny] [--steps 10] [--batch 16]
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from data_tools.builtin.part_shapes import category_parts
from m2pt import build_model, merge, reparameterize
from m2pt.tasks import get_task, to_device

PART_TASK = dict(category_parts=list(category_parts().values()))
NUM_CATEGORIES, NUM_PARTS, NUM_PIXEL_CLASSES = len(category_parts()), 24, 11


def cases(size: str, batch: int) -> dict[str, tuple]:
    """name -> (segmentation task, model settings, classes, encoder classes, make a (batch of inputs, targets))."""
    points = 1024 if size == "tiny" else 2048
    image = 56 if size == "tiny" else 224
    image_settings = dict(img_size=image) if size == "tiny" else dict(img_size=image, patch_size=16, in_chans=1)

    def point_batch():
        parts = torch.randint(0, NUM_PARTS, (batch, points))
        return (torch.randn(batch, points, 3), torch.randint(0, NUM_CATEGORIES, (batch,))), parts

    def image_batch():
        return torch.randn(batch, 1, image, image), torch.randint(0, NUM_PIXEL_CLASSES, (batch, image, image))

    return {
        "part segmentation (point)": (
            get_task("part_segmentation", **PART_TASK),
            dict(modality="point", num_points=points),
            NUM_PARTS,
            NUM_CATEGORIES,
            point_batch,
        ),
        "semantic segmentation (image)": (
            get_task("semantic_segmentation"),
            dict(modality="image", **image_settings),
            NUM_PIXEL_CLASSES,
            10,
            image_batch,
        ),
    }


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def alternate(items: list, step: int) -> list:
    return items if step % 2 == 0 else items[::-1]


def interleaved(runs: dict[str, Callable[[], None]], steps: int, device: str) -> dict[str, float]:
    """Median seconds of each callable, interleaved, after two warm-up rounds."""
    times = {name: [] for name in runs}
    for step in range(steps + 2):
        for name, run in alternate(list(runs.items()), step):
            sync(device)
            start = time.perf_counter()
            run()
            sync(device)
            if step >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def measure(case: tuple, size: str, device: str, steps: int) -> dict[str, float]:
    task, settings, classes, encoder_classes, make_batch = case
    torch.manual_seed(0)
    segmenter = task.build_model(size=size, num_classes=classes, **settings).to(device)
    encoder = build_model(size=size, num_classes=encoder_classes, **settings).to(device)
    (inputs, target) = to_device(make_batch(), device)
    labels = torch.randint(0, encoder_classes, (len(target),), device=device)
    plain_inputs = inputs[0] if isinstance(inputs, tuple) else inputs
    optimizers = {m: torch.optim.AdamW(m.parameters(), lr=1e-4, fused=device != "mps") for m in (segmenter, encoder)}

    def train_segmenter():
        loss, _ = task.loss(segmenter, (inputs, target))
        loss.backward()
        optimizers[segmenter].step()
        optimizers[segmenter].zero_grad(set_to_none=True)

    def train_encoder():
        loss = torch.nn.functional.cross_entropy(encoder(plain_inputs), labels)
        loss.backward()
        optimizers[encoder].step()
        optimizers[encoder].zero_grad(set_to_none=True)

    train = interleaved({"segmenter": train_segmenter, "encoder": train_encoder}, steps, device)
    segmenter.eval(), encoder.eval()
    with torch.no_grad():
        infer = interleaved(
            {"segmenter": lambda: segmenter(inputs), "encoder": lambda: encoder(plain_inputs)}, 2 * steps, device
        )
        reparameterize(segmenter, build_model(size=size, **settings).state_dict())
        for layer in segmenter.modules():
            if hasattr(layer, "lambdas"):
                layer.lambdas.uniform_(-0.1, 0.1)
        diff = (merge(segmenter)(inputs) - segmenter(inputs)).abs().max().item()
    head = sum(p.numel() for n, p in segmenter.named_parameters() if n.startswith("head."))
    total = sum(p.numel() for n, p in segmenter.named_parameters() if "aux_weights" not in n and "lambdas" not in n)
    return dict(
        train_seg=train["segmenter"], train_enc=train["encoder"], infer_seg=infer["segmenter"],
        infer_enc=infer["encoder"], head_share=head / total, diff=diff,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", default="tiny", choices=["tiny", "small", "base"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    print(f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, size {args.size}")
    print(f"batch {args.batch}; x encoder = segmentation model / same encoder with a classification head")
    for name, case in cases(args.size, args.batch).items():
        r = measure(case, args.size, args.device, args.steps)
        print(f"\n{name}: head {r['head_share']:.1%} of the parameters")
        print(f"  train step: {r['train_seg'] * 1e3:8.1f} ms vs encoder {r['train_enc'] * 1e3:8.1f} ms  "
              f"x{r['train_seg'] / r['train_enc']:.2f}")  # fmt: skip
        print(f"  inference:  {r['infer_seg'] * 1e3:8.1f} ms vs encoder {r['infer_enc'] * 1e3:8.1f} ms  "
              f"x{r['infer_seg'] / r['infer_enc']:.2f}")  # fmt: skip
        print(f"  merged M2PT segmentation model vs unmerged: max |diff| {r['diff']:.2e}")


if __name__ == "__main__":
    main()
