import numpy as np
import pytest
import torch
from PIL import Image

from data_tools import DataFileError, ImageReader, image_stats, load_image


def write_image(path, size=(40, 30), color=(200, 100, 50)):
    Image.new("RGB", size, color).save(path)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_load_image_rgb_and_grey(tmp_path, suffix):
    path = write_image(tmp_path / f"a{suffix}")
    rgb = load_image(path)
    assert rgb.shape == (3, 30, 40) and rgb.dtype == torch.uint8
    assert (rgb[:, 0, 0].int() - torch.tensor([200, 100, 50])).abs().max() <= 2
    assert load_image(path, channels=1).shape == (1, 30, 40)


def test_image_reader_resizes_crops_and_normalises(tmp_path):
    path = write_image(tmp_path / "a.png", color=(255, 0, 0))
    x = ImageReader(image_size=16)(path)
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32
    expected = (torch.tensor([1.0, 0, 0]) - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(x[:, 8, 8], expected)
    assert ImageReader(image_size=None, channels=1)(path).shape == (1, 30, 40)
    assert ImageReader(image_size=12, augment=True)(path).shape == (3, 12, 12)


def test_image_stats(tmp_path):
    paths = [
        write_image(tmp_path / "a.png", color=(0, 0, 0)),
        write_image(tmp_path / "b.png", color=(255, 255, 255)),
    ]
    mean, std = image_stats(paths, channels=1)
    assert mean == pytest.approx([0.5]) and std == pytest.approx([0.5])


def test_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.png"
    empty.touch()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(np.random.default_rng(0).bytes(500))
    truncated = tmp_path / "truncated.png"
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.png")
    truncated.write_bytes((tmp_path / "full.png").read_bytes()[:3000])
    for path, reason in [
        (empty, "file is empty"),
        (corrupt, "UnidentifiedImageError"),
        (truncated, "truncated"),
        (tmp_path / "a.svg", "unsupported file type"),
    ]:
        with pytest.raises(DataFileError, match=reason) as error:
            load_image(path)
        assert str(path) in str(error.value)
