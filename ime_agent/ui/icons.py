"""Tray icons for the agent's states, drawn with Pillow.

Each state has its own shape *and* glyph, so the icons stay distinguishable
without colour (colour-blind users, monochrome panels):

- ``consent``   blue circle, question mark   — waiting for the user's consent
- ``capturing`` green circle, open eye       — watching typing right now
- ``paused``    grey circle, two bars        — nothing is captured
- ``error``     red triangle, exclamation    — something needs attention

Shapes are drawn at 4x and scaled down, so no font is needed and edges are smooth.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

CONSENT = "consent"
CAPTURING = "capturing"
PAUSED = "paused"
ERROR = "error"
STATES = (CONSENT, CAPTURING, PAUSED, ERROR)

COLOURS = {
    CONSENT: (21, 101, 192),
    CAPTURING: (46, 125, 50),
    PAUSED: (97, 97, 97),
    ERROR: (198, 40, 40),
}

_SCALE = 4
_WHITE = (255, 255, 255, 255)


def icon_image(state: str, size: int = 64) -> Image.Image:
    """The RGBA icon for ``state`` (one of :data:`STATES`), ``size`` pixels square."""
    if state not in COLOURS:
        raise ValueError(f"unknown tray state {state!r}; expected one of {', '.join(STATES)}")
    big = size * _SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    u = big / 64  # drawing unit: the glyphs below are laid out on a 64x64 grid
    fill = COLOURS[state] + (255,)
    if state == ERROR:
        draw.polygon([(32 * u, 3 * u), (62 * u, 58 * u), (2 * u, 58 * u)], fill=fill)
    else:
        draw.ellipse([2 * u, 2 * u, 62 * u, 62 * u], fill=fill)
    _GLYPHS[state](draw, u)
    return image.resize((size, size), Image.LANCZOS)


def _question(draw: ImageDraw.ImageDraw, u: float) -> None:
    w = round(6 * u)
    draw.arc([21 * u, 13 * u, 43 * u, 33 * u], start=180, end=45, fill=_WHITE, width=w)
    # the hook's tail: from the arc's end down to the stem
    end = (32 * u + 11 * u * math.cos(math.radians(45)), 23 * u + 10 * u * math.sin(math.radians(45)))
    draw.line([end, (32 * u, 36 * u), (32 * u, 40 * u)], fill=_WHITE, width=w, joint="curve")
    _dot(draw, 32 * u, 48 * u, 4 * u)


def _eye(draw: ImageDraw.ImageDraw, u: float) -> None:
    # An almond: two circular arcs meeting at the corners of the eye.
    points = []
    for sign in (1, -1):
        for i in range(33):
            x = 12 + 40 * i / 32
            y = 32 + sign * 13 * math.sin(math.pi * i / 32)
            points.append((x * u, y * u))
        points.reverse()
    draw.polygon(points, fill=_WHITE)
    _dot(draw, 32 * u, 32 * u, 8 * u, fill=(0, 0, 0, 255))
    _dot(draw, 32 * u, 32 * u, 3 * u, fill=_WHITE)


def _bars(draw: ImageDraw.ImageDraw, u: float) -> None:
    draw.rectangle([20 * u, 18 * u, 28 * u, 46 * u], fill=_WHITE)
    draw.rectangle([36 * u, 18 * u, 44 * u, 46 * u], fill=_WHITE)


def _exclamation(draw: ImageDraw.ImageDraw, u: float) -> None:
    draw.polygon([(28 * u, 22 * u), (36 * u, 22 * u), (34 * u, 42 * u), (30 * u, 42 * u)], fill=_WHITE)
    _dot(draw, 32 * u, 50 * u, 4 * u)


def _dot(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill=_WHITE) -> None:
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


_GLYPHS = {CONSENT: _question, CAPTURING: _eye, PAUSED: _bars, ERROR: _exclamation}
