"""Randomness of data items as a function of (seed, epoch, index), not of the order items are read in.

A reader's augmentation (random crops, RandAugment, clip starts, point resampling) draws from the
global RNGs of whichever process reads the item. Seeding those RNGs per item makes every item's
augmentation the same whatever the number of loader workers, processes, or where a run resumed;
the caller's RNG states are restored afterwards, so reading data never moves the training RNGs.
"""

import contextlib
import hashlib
import random
from collections.abc import Iterator

import numpy as np
import torch


def item_seed(*parts: int) -> int:
    """A 63-bit seed from integers (e.g. run seed, epoch, index): distinct tuples, unrelated seeds."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body with torch, numpy and ``random`` seeded from ``seed``; restore their states after."""
    python, numpy, cpu = random.getstate(), np.random.get_state(), torch.default_generator.get_state()
    torch.default_generator.manual_seed(seed)  # the CPU generator only: torch.manual_seed also seeds devices (slow)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy)
        torch.default_generator.set_state(cpu)
