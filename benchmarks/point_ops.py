"""Benchmark of m2pt.ops against peer libraries: farthest point sampling and k nearest neighbours.

For each size (B clouds of N random points, n FPS centres, k neighbours of each centre) every
implementation runs once to warm up, then `--repeats` times in turn (round robin, so that drift in the
machine's speed hits all of them alike); the table gives the median in ms per batch and, in brackets,
that time divided by m2pt's (>1: m2pt is faster). The peers are single-threaded libraries looped over
the batch; m2pt uses torch's CPU threads ("m2pt 1 thread": one). It also checks that all FPS
implementations pick the same sets and counts how many kNN lists equal m2pt's exactly.

    python benchmarks/point_ops.py [--repeats 7] [--sizes 32,1024,64 8,8192,2048] [--k 32]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import fpsample
import numpy as np
import open3d as o3d
import torch
from scipy.spatial import cKDTree

from m2pt.ops import cpu_kernels, farthest_point_sample, gather_points, knn
from m2pt.ops.farthest_point_sampling import farthest_point_sample_reference
from m2pt.ops.nearest_neighbors import knn_reference

SIZES = ((32, 1024, 64), (32, 2048, 512), (8, 8192, 2048))
OURS = "m2pt"


def fps_implementations(xyz: torch.Tensor, n: int) -> dict[str, Callable[[], object]]:
    clouds = xyz.double().numpy()
    lengths = torch.full((xyz.shape[0],), xyz.shape[1])

    def open3d_legacy() -> list[np.ndarray]:
        picked = []
        for cloud in clouds:
            down = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud)).farthest_point_down_sample(n, 0)
            picked.append(np.asarray(down.points))
        return picked

    implementations = {
        OURS: lambda: farthest_point_sample(xyz, n),
        "m2pt 1 thread": single_threaded(lambda: farthest_point_sample(xyz, n)),
        "m2pt torch ref": lambda: farthest_point_sample_reference(xyz, n, 0, lengths),
        "Open3D legacy": open3d_legacy,
        "fpsample": lambda: [fpsample.fps_sampling(cloud, n, start_idx=0) for cloud in clouds],
    }
    if torch.cuda.is_available():
        on_gpu = xyz.cuda()
        implementations["m2pt CUDA"] = lambda: _synchronized(farthest_point_sample(on_gpu, n))
    return implementations


def fps_same_sets(xyz: torch.Tensor, results: dict[str, object]) -> bool:
    """Whether every implementation picked the same set of points as m2pt in every cloud."""
    clouds = xyz.double().numpy()
    ours = [np.sort(picks) for picks in results[OURS].cpu().numpy()]
    for name, result in results.items():
        if name == "Open3D legacy":  # points, in index order
            same = all(np.array_equal(c[i], p) for c, i, p in zip(clouds, ours, result, strict=True))
        else:
            same = all(
                np.array_equal(np.sort(np.asarray(p.cpu() if isinstance(p, torch.Tensor) else p)), i)
                for p, i in zip(result, ours, strict=True)
            )
        if not same:
            print(f"  FPS: {name} picks other points than {OURS}")
            return False
    return True


def knn_implementations(xyz: torch.Tensor, centers: torch.Tensor, k: int) -> dict[str, Callable[[], object]]:
    clouds, queries = xyz.double().numpy(), centers.double().numpy()
    clouds32, queries32 = xyz.numpy(), centers.numpy()
    lengths = torch.full((xyz.shape[0],), xyz.shape[1])

    def open3d_nns() -> np.ndarray:
        found = []
        for cloud, query in zip(clouds32, queries32, strict=True):
            search = o3d.core.nns.NearestNeighborSearch(o3d.core.Tensor(cloud))
            search.knn_index()
            found.append(search.knn_search(o3d.core.Tensor(query), k)[0].numpy())
        return np.stack(found)

    implementations = {
        OURS: lambda: knn(xyz, centers, k),
        "m2pt 1 thread": single_threaded(lambda: knn(xyz, centers, k)),
        "m2pt torch ref": lambda: knn_reference(xyz, centers, k, lengths),
        "scipy cKDTree": lambda: np.stack([cKDTree(c).query(q, k)[1] for c, q in zip(clouds, queries, strict=True)]),
        "Open3D NNS": open3d_nns,
        "cdist+topk": lambda: torch.cdist(centers, xyz).topk(k, dim=-1, largest=False, sorted=True).indices,
    }
    if torch.cuda.is_available():
        on_gpu = xyz.cuda(), centers.cuda()
        implementations["m2pt CUDA"] = lambda: _synchronized(knn(*on_gpu, k))
    return implementations


def knn_agreement(results: dict[str, object]) -> str:
    """Per implementation, the share of neighbour lists identical to m2pt's."""
    ours = results[OURS].cpu().numpy()
    shares = []
    for name, result in results.items():
        found = result.cpu().numpy() if isinstance(result, torch.Tensor) else np.asarray(result)
        same = (found.reshape(ours.shape) == ours).all(axis=-1).mean()
        shares.append(f"{name} {100 * same:.2f}%")
    return "kNN lists equal to m2pt's: " + ", ".join(shares)


def single_threaded(run: Callable[[], object]) -> Callable[[], object]:
    """``run`` with torch (and so m2pt's kernels) limited to one CPU thread, like the peers."""

    def run_on_one_thread() -> object:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return run()
        finally:
            torch.set_num_threads(threads)

    return run_on_one_thread


def _synchronized(result: torch.Tensor) -> torch.Tensor:
    torch.cuda.synchronize()
    return result


def time_all(implementations: dict[str, Callable[[], object]], repeats: int) -> tuple[dict, dict]:
    """Median seconds per call of each implementation, and each one's last result."""
    results = {name: run() for name, run in implementations.items()}  # warm-up (and compilation)
    times: dict[str, list[float]] = {name: [] for name in implementations}
    for _ in range(repeats):
        for name, run in implementations.items():
            begin = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - begin)
    return {name: statistics.median(t) for name, t in times.items()}, results


def print_table(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    names = list(rows[0][1])
    print(f"\n{title}: ms per batch (peer time / m2pt time)")
    print(f"{'B, N, n':>16} | " + " | ".join(f"{name:>19}" for name in names))
    for size, medians in rows:
        cells = [f"{1e3 * medians[OURS]:8.1f}" + " " * 11]
        cells += [f"{1e3 * medians[name]:8.1f} ({medians[name] / medians[OURS]:6.2f}x)" for name in names[1:]]
        print(f"{size:>16} | " + " | ".join(f"{cell:>19}" for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--sizes", nargs="+", default=[",".join(map(str, s)) for s in SIZES], help="B,N,n ...")
    args = parser.parse_args()
    backend = "compiled kernels" if cpu_kernels.available() else "pure torch (kernels unavailable)"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, m2pt on the CPU: {backend}")
    print(f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'not available'}")
    fps_rows, knn_rows = [], []
    for size in args.sizes:
        batch, n_points, n = map(int, size.split(","))
        xyz = torch.rand(batch, n_points, 3, generator=torch.Generator().manual_seed(n_points))
        label = f"{batch}, {n_points}, {n}"
        medians, results = time_all(fps_implementations(xyz, n), args.repeats)
        fps_rows.append((label, medians))
        same = fps_same_sets(xyz, results)
        centers = gather_points(xyz, results[OURS])
        medians, results = time_all(knn_implementations(xyz, centers, args.k), args.repeats)
        knn_rows.append((label, medians))
        print(f"{label}: FPS picks the same sets: {'yes' if same else 'NO'}; {knn_agreement(results)}")
    print_table("Farthest point sampling", fps_rows)
    print_table(f"k nearest neighbours (k={args.k}) of the n FPS centres", knn_rows)


if __name__ == "__main__":
    main()
