"""A real X server with a system tray host (trayer) for the tray and window tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from xserver import need_tools, wait_until, xvfb

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def tray_owner(display: str) -> int:
    """The window owning the system tray selection on screen 0, or 0."""
    from Xlib import display as xdisplay

    conn = xdisplay.Display(display)
    try:
        owner = conn.get_selection_owner(conn.intern_atom("_NET_SYSTEM_TRAY_S0"))
        return getattr(owner, "id", owner)  # X.NONE (0) while nobody owns it
    finally:
        conn.close()


@pytest.fixture(scope="session")
def x_tray():
    """Xvfb + openbox + trayer, with DISPLAY pointing at it, shared by the session's tray tests.

    One server for all: Tk keeps its X connections open until the process exits, so a
    second server replacing the first would kill the test process at the next Tk call.
    """
    need_tools("trayer", "import")
    with xvfb() as x, pytest.MonkeyPatch.context() as env:
        env.setenv("DISPLAY", x.display)
        x.spawn("trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                "--height", "32", "--transparent", "false", "--tint", "0xdddddd", "--SetDockType", "true",
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: tray_owner(x.display), what="trayer to own the system tray")
        yield x


def screenshot(x, name: str, zoom_tray: bool = False) -> Path:
    """Save the whole screen to test-artifacts/ (and, for the tray, a 4x zoom of the top-right corner)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    x.run("import", "-window", "root", str(path))
    if zoom_tray:
        from PIL import Image

        with Image.open(path) as image:
            corner = image.crop((image.width - 160, 0, image.width, 40))
            corner.resize((corner.width * 4, corner.height * 4), Image.NEAREST).save(
                path.with_name(path.stem + "-zoom.png"))
    return path
