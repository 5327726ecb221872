"""Tray icons: one per state, told apart by shape as well as colour."""

from __future__ import annotations

import itertools

import pytest
from PIL import ImageChops, ImageStat

from ime_agent.ui.icons import STATES, icon_image


def _grey(state: str, size: int = 64):
    """The icon as a colour-blind or monochrome panel shows it: luminance only, on white."""
    from PIL import Image

    image = icon_image(state, size)
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, image).convert("L")


@pytest.mark.parametrize("size", [16, 22, 24, 32, 64, 128])
def test_every_state_has_an_icon_of_the_asked_size(size):
    for state in STATES:
        image = icon_image(state, size)
        assert image.size == (size, size) and image.mode == "RGBA"


def test_states_differ_without_colour():
    # Mean absolute difference of the greyscale images: clearly different shapes/glyphs.
    for a, b in itertools.combinations(STATES, 2):
        difference = ImageStat.Stat(ImageChops.difference(_grey(a), _grey(b))).mean[0]
        assert difference > 12, (a, b, difference)


def test_unknown_state_is_an_error():
    with pytest.raises(ValueError, match="unknown tray state"):
        icon_image("sleeping")


def test_icons_are_deterministic():
    assert icon_image("capturing").tobytes() == icon_image("capturing").tobytes()
