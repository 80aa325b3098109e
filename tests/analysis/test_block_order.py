import pytest

from analysis.block_order import block_maps, paired_blocks, random_permutation
from analysis.runs import as_model
from m2pt import build_model, reparameterize
from workflows.designs import block_order_arms
from workflows.presets import run_arms, run_config


def test_random_permutation_is_a_new_order_and_seeded():
    for depth in (3, 4, 12):
        for seed in range(5):
            order = random_permutation(depth, seed)
            assert sorted(order) == list(range(depth))
            assert order not in (list(range(depth)), list(range(depth))[::-1])
            assert order == random_permutation(depth, seed)
    assert len({tuple(random_permutation(12, seed)) for seed in range(5)}) > 1
    with pytest.raises(ValueError, match="no block order"):
        random_permutation(2)


def test_arms_hold_each_block_map():
    arms = block_order_arms("aux.safetensors", depth=4, seed=1)
    assert list(arms) == ["baseline", "identity", "reversed", "permuted"] and arms["baseline"] == {}
    assert arms["reversed"] == {"aux": ["aux.safetensors"], "set": {"pathway.block_map": "reversed"}}
    assert arms["permuted"]["set"]["pathway.block_map"] == block_maps(4, seed=1)["permuted"] == random_permutation(4, 1)


@pytest.mark.parametrize(
    ("block_map", "pairing"), [("identity", [0, 1, 2, 3]), ("reversed", [3, 2, 1, 0]), ([2, 0, 3, 1], [2, 0, 3, 1])]
)
def test_paired_blocks_recovers_the_block_map(block_map, pairing):
    target, aux = build_model("image", depth=4), build_model("audio", depth=4)
    reparameterize(target, aux, block_map=block_map)
    assert paired_blocks(target, aux) == pairing


def test_trained_runs_carry_the_blocks_their_order_names(tmp_path, aux_encoder):
    """Reversed order pairs target block i with auxiliary block depth-1-i, also after training."""
    config = run_config("image", size="small", output_dir=tmp_path)
    comparison = run_arms("order", block_order_arms(str(aux_encoder), depth=3), config, seeds=[0])
    assert list(comparison.scores) == ["baseline", "identity", "reversed", "permuted"]
    pairings = {"identity": [0, 1, 2], "reversed": [2, 1, 0], "permuted": random_permutation(3)}
    for order, pairing in pairings.items():
        assert paired_blocks(as_model(tmp_path / "order" / order / "seed0"), aux_encoder) == pairing
