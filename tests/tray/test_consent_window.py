"""The consent window on a real X server, driven with real clicks (xdotool)."""

from __future__ import annotations

import pytest

from ime_agent.consent import CONSENT_TEXT
from ime_agent.ui.consent_window import WM_CLASS, ConsentWindow
from tray.conftest import screenshot
from xserver import wait_until

pytestmark = pytest.mark.x11


def _pump(window: ConsentWindow, predicate):
    """Let Tk handle events (this thread owns it) until ``predicate`` holds."""
    def check():
        if not window.done:
            window.root.update()
        return predicate()
    return check


def _click(x, window: ConsentWindow, widget) -> None:
    window.root.update()
    cx = widget.winfo_rootx() + 8  # the checkbox indicator / the button's left part
    cy = widget.winfo_rooty() + widget.winfo_height() // 2
    x.xdotool("mousemove", str(cx), str(cy), "click", "1")


@pytest.fixture
def consent(x_tray):
    window = ConsentWindow()
    wait_until(_pump(window, lambda: x_tray.run("xdotool", "search", "--onlyvisible", "--class", WM_CLASS,
                                                 check=False).stdout.strip()), what="the consent window")
    yield window
    if not window.done:
        window.root.destroy()


def test_shows_the_text_and_safe_defaults(x_tray, consent):
    shown = consent.text.get("1.0", "end").strip()
    assert shown == CONSENT_TEXT.strip()
    assert consent.choices() == {"purchase": True, "travel": True, "health": False}
    screenshot(x_tray, "consent-window.png")


def test_confirm_returns_the_ticked_categories(x_tray, consent):
    _click(x_tray, consent, consent.boxes["health"])
    wait_until(_pump(consent, lambda: consent.choices()["health"]), what="health to be ticked by the click")
    _click(x_tray, consent, consent.boxes["travel"])
    wait_until(_pump(consent, lambda: not consent.choices()["travel"]), what="travel to be unticked")
    screenshot(x_tray, "consent-window-changed.png")
    _click(x_tray, consent, consent.confirm_button)
    wait_until(_pump(consent, lambda: consent.done), what="Confirm to close the window")
    assert consent.run() == {"purchase": True, "travel": False, "health": True}


def test_not_now_and_escape_agree_to_nothing(x_tray, consent):
    _click(x_tray, consent, consent.not_now_button)
    wait_until(_pump(consent, lambda: consent.done), what="Not now to close the window")
    assert consent.run() is None

    again = ConsentWindow(initial={"purchase": False, "travel": True, "health": True})
    assert again.choices() == {"purchase": False, "travel": True, "health": True}
    window_id = wait_until(_pump(again, lambda: x_tray.run("xdotool", "search", "--onlyvisible", "--class",
                                                           WM_CLASS, check=False).stdout.split()),
                           what="the second consent window")[0]
    x_tray.xdotool("windowactivate", "--sync", window_id)
    x_tray.xdotool("key", "--window", window_id, "Escape")
    wait_until(_pump(again, lambda: again.done), what="Escape to close the window")
    assert again.run() is None
