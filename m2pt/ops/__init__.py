"""Point-cloud operations for the point-cloud tokenizer: farthest point sampling, k nearest neighbours and
gathering by index. Batched torch on any device, with an exact compiled fast path on the CPU."""

from .farthest_point_sampling import farthest_point_sample
from .gathering import gather_points
from .nearest_neighbors import knn

__all__ = ["farthest_point_sample", "gather_points", "knn"]
