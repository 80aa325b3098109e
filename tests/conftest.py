import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # one core per worker: the workers share the machine's cores


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
