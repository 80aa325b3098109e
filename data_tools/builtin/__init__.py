"""The built-in datasets; importing this package registers them (one module each)."""

from data_tools.builtin import kicad_parts, ktuberling, mnist, moving_digits, shapes, spoken_digits

__all__ = ["kicad_parts", "ktuberling", "mnist", "moving_digits", "shapes", "spoken_digits"]
