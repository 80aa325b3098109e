"""Trainer overhead: samples/s of ``python -m m2pt.train finetune`` against a minimal hand-written
training loop over the same model, data, batch size and epochs, measured in turn in one run.

Both do the same work: every epoch a shuffled pass over the training set (forward, loss,
backward, fused AdamW) and an evaluation pass over the validation set. The trainer adds its
schedule, logging, progress bar, checkpoints and run folder. Target: at least 0.95x the loop.
With ``--pathway`` the comparison is repeated with an M2PT model (auxiliary: a random model).
On a GPU, ``--size base --modality image`` also records M2PT vs baseline throughput at ViT-B size.

    python benchmarks/trainer_overhead.py [--epochs 2] [--repeats 3] [--device cpu] [--size tiny]
"""

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

import data_tools
from m2pt import build_model, reparameterize
from m2pt.train import run_stage
from m2pt.train.config import DataConfig
from m2pt.train.data import build_data
from workflows.presets import DATASETS  # the built-in dataset of each modality


def hand_loop(args, data, pathway: bool) -> float:
    """Seconds for ``args.epochs`` epochs of the plainest loop that does the same work."""
    torch.manual_seed(0)
    model = build_model(args.modality, args.size, num_classes=len(data.classes)).to(args.device)
    if pathway:
        reparameterize(model, build_model(args.modality, args.size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    train = data_tools.make_loader(data.train, args.batch_size, shuffle=True, seed=0, drop_last=True)
    val = data_tools.make_loader(data.val, 256, shuffle=False)
    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        for x, y in train:
            x, y = x.to(args.device), y.to(args.device)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        model.eval()
        with torch.no_grad():
            for x, y in val:
                (model(x.to(args.device)).argmax(1) == y.to(args.device)).sum().item()
    _sync(args.device)
    return time.perf_counter() - start


def trainer(args, folder: str, index: int, pathway: bool) -> float:
    """Seconds of the trainer's own training (its summary, which excludes start-up and data building)."""
    overrides = [f"output_dir={folder}", f"name=run{index}{'p' if pathway else ''}", f"data.dataset={DATASETS[args.modality]}",
                 f"data.train_limit={args.train_limit}", f"data.batch_size={args.batch_size}", f"epochs={args.epochs}",
                 f"model.modality={args.modality}", f"model.size={args.size}", f"device={args.device}", "log_every=50"]  # fmt: skip
    if pathway:
        overrides.append("pathway.aux=[random]")
    return run_stage("finetune", overrides=overrides)["seconds"]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modality", default="image", choices=sorted(DATASETS))
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-limit", type=int, default=2000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--pathway", action="store_true", help="also compare with an M2PT model")
    args = parser.parse_args()
    data = build_data(DataConfig(dataset=DATASETS[args.modality], train_limit=args.train_limit))
    samples = args.epochs * (len(data.train) // args.batch_size) * args.batch_size
    print(f"{args.modality} {args.size}, {samples} training samples per run, device {args.device}, "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for pathway in (False, True) if args.pathway else (False,):
            loop, runs = [], []
            for index in range(args.repeats):  # alternate, so drift hits both alike
                loop.append(hand_loop(args, data, pathway))
                runs.append(trainer(args, folder, index, pathway))
            results[pathway] = (samples / statistics.median(loop), samples / statistics.median(runs))
    print(f"\n{'model':<10}{'hand loop':>14}{'trainer':>14}{'ratio':>8}")
    for pathway, (loop_rate, run_rate) in results.items():
        print(
            f"{'m2pt' if pathway else 'baseline':<10}{loop_rate:>10.0f} /s{run_rate:>10.0f} /s{run_rate / loop_rate:>8.3f}"
        )
    if True in results:
        print(f"\nM2PT vs baseline throughput (trainer): {results[True][1] / results[False][1]:.3f}x")
    print("target: trainer >= 0.95x the hand loop")


if __name__ == "__main__":
    main()
