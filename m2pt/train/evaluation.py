"""Multi-view evaluation splits: each item is ``[views, ...]`` inputs of one example, whose logits
:meth:`m2pt.tasks.Classification.evaluate` averages.

Video (``clips`` x ``crops``, VideoMAE's test): the reader's :meth:`~data_tools.ClipReader.views`.
Points (``votes``, Point-MAE's voting): the split read again with its augmentation on (resampled,
scaled, shifted), ``votes`` times, each vote seeded by (vote, index) so evaluations repeat exactly.
"""

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from data_tools.from_settings import dataset_from_settings, evaluation_settings
from m2pt.train.config import ConfigError, DataConfig, EvaluationOptions
from m2pt.train.item_seeds import item_seed, seeded

VOTE_SEED = 0  # the votes of every evaluation: the same draws


class ClipViews(Dataset):
    """``([clips * crops, C, T, S, S], label)`` of a video split whose reader has ``views``."""

    def __init__(self, dataset: Dataset, clips: int, crops: int) -> None:
        self.base, self.indices = _unwrap(dataset)
        if not hasattr(self.base.reader, "views"):
            raise ConfigError(f"evaluation.clips / crops need a video reader, not {type(self.base.reader).__name__}")
        self.clips, self.crops = clips, crops

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        key, label = self.base.samples[self.indices[index]]
        return self.base.reader.views(key, self.clips, self.crops), label


class Votes(Dataset):
    """``([votes, ...], label)``: ``votes`` seeded reads of each item of an augmented split."""

    def __init__(self, augmented: Dataset, indices: list[int], votes: int) -> None:
        self.augmented, self.indices, self.votes = augmented, indices, votes

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        reads = []
        for vote in range(self.votes):
            with seeded(item_seed(VOTE_SEED, vote, self.indices[index])):
                reads.append(self.augmented[self.indices[index]])
        return torch.stack([x for x, _ in reads]), reads[0][1]


def multi_view(dataset: Dataset, config: DataConfig, split: str, options: EvaluationOptions, modality: str) -> Dataset:
    """The evaluation ``split`` ``dataset`` (built from ``config``) as views per ``options``; itself for one view."""
    if options.views() == 1:
        return dataset
    builders: dict[str, Callable[[], Dataset]] = {
        "video": lambda: ClipViews(dataset, options.clips, options.crops),
        "point": lambda: Votes(
            dataset_from_settings(evaluation_settings(vars(config), augment=True), split),
            _unwrap(dataset)[1],
            options.votes,
        ),
    }
    wanted = "video" if options.clips * options.crops > 1 else "point"
    if modality != wanted or (wanted == "video" and options.votes > 1):
        raise ConfigError(
            f"evaluation views: clips and crops are for video, votes for point clouds; got {options} for {modality} data"
        )
    return builders[modality]()


def _unwrap(dataset: Dataset) -> tuple[Dataset, list[int]]:
    """The underlying dataset and the indices into it (a ``Subset`` of a ``*_limit``)."""
    if isinstance(dataset, Subset):
        return dataset.dataset, list(dataset.indices)
    return dataset, list(range(len(dataset)))
