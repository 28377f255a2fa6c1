"""WCAG 2.2 contrast ratio between two sRGB colours (success criterion 1.4.3)."""

import re

HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def darken(hex_colour: str, factor: float = 0.8) -> str:
    r, g, b = (int(int(hex_colour[i:i + 2], 16) * factor) for i in (1, 3, 5))
    return f"#{r:02x}{g:02x}{b:02x}"


def tint(hex_colour: str, amount: float = 0.95) -> str:
    """A very light tint of the colour (mixed with white), for backgrounds."""
    r, g, b = (round(int(hex_colour[i:i + 2], 16) + (255 - int(hex_colour[i:i + 2], 16)) * amount)
               for i in (1, 3, 5))
    return f"#{r:02x}{g:02x}{b:02x}"
