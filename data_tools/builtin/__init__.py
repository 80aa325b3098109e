"""The built-in datasets; importing this package registers them (one module each)."""

from data_tools.builtin import (
    digit_mixtures,
    digit_scenes,
    kicad_parts,
    ktuberling,
    mnist,
    moving_digits,
    part_shapes,
    shapes,
    spoken_digits,
)

__all__ = [
    "digit_mixtures",
    "digit_scenes",
    "kicad_parts",
    "ktuberling",
    "mnist",
    "moving_digits",
    "part_shapes",
    "shapes",
    "spoken_digits",
]
