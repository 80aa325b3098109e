import math

import numpy as np
import pytest

from analysis.layers import layer_bars, layer_grid, layer_heatmap, split_layer


def test_split_layer():
    assert split_layer("blocks.11.mlp.fc2") == (11, "mlp.fc2")
    with pytest.raises(ValueError, match="not a layer"):
        split_layer("head.weight")


def test_grid_rows_follow_layer_types_and_absent_layers_are_nan():
    values = {"blocks.1.mlp.fc1": 3.0, "blocks.0.attn.qkv": 1.0, "blocks.2.attn.qkv": 2.0}
    grid, types = layer_grid(values)
    assert types == ["attn.qkv", "mlp.fc1"]
    assert grid.shape == (2, 3)
    assert grid[0, 0] == 1.0 and grid[0, 2] == 2.0 and grid[1, 1] == 3.0
    assert math.isnan(grid[0, 1]) and math.isnan(grid[1, 0])


def test_heatmap_shows_the_grid():
    values = {f"blocks.{b}.{t}": 10 * b + i for b in range(2) for i, t in enumerate(["attn.qkv", "attn.proj"])}
    fig = layer_heatmap(values, title="t", colorbar="c", diverging=True)
    np.testing.assert_array_equal(np.array(fig.data[0].z), [[0, 10], [1, 11]])
    assert list(fig.data[0].y) == ["attn.qkv", "attn.proj"] and fig.data[0].zmid == 0


def test_bars_are_in_block_order_for_layers_and_blocks():
    fig = layer_bars({"a": {"blocks.10": 1.0, "blocks.2": 2.0}, "b": {"blocks.1.mlp.fc1": 0.5, "blocks.1.attn.qkv": 0.1}},
                     title="t", yaxis="y")  # fmt: skip
    assert list(fig.data[0].x) == ["blocks.2", "blocks.10"] and list(fig.data[0].y) == [2.0, 1.0]
    assert list(fig.data[1].x) == ["blocks.1.attn.qkv", "blocks.1.mlp.fc1"]
