"""The review window on a real X server: it lists summaries and deletes only after Yes."""

from __future__ import annotations

import pytest

from ime_agent.ui.review_window import WM_CLASS, ReviewWindow, row
from ime_wire.summary import Summary
from tray.conftest import screenshot
from xserver import wait_until

pytestmark = pytest.mark.x11

SUMMARIES = [
    Summary("a1", "2026-11-22T08:15:00Z", "browser", "en", "purchase", 0.91, {"product": "laptop"}, "en-1"),
    Summary("a2", "2026-11-22T08:30:00Z", "chat", "zh", "travel", 0.84, {"destination": "China"}, "zh-1"),
]


def test_row_shows_only_summary_fields():
    assert row(SUMMARIES[0]) == ("2026-11-22 08:15", "browser", "en", "purchase", "91%", "product: laptop")


def test_lists_summaries_and_deletes_after_confirmation(x_tray, monkeypatch):
    deleted = []
    window = ReviewWindow(SUMMARIES, on_delete_all=lambda: deleted.append(True))

    def shown():
        window.root.update()
        return x_tray.run("xdotool", "search", "--onlyvisible", "--class", WM_CLASS, check=False).stdout.strip()

    wait_until(shown, what="the review window")
    assert [window.table.item(i)["values"][3] for i in window.table.get_children()] == ["purchase", "travel"]
    screenshot(x_tray, "review-window.png")

    answers = iter([False, True])  # the real dialog is modal; its answer is what matters here
    monkeypatch.setattr("ime_agent.ui.review_window.ask_delete_everything", lambda parent=None: next(answers))
    window.delete_button.invoke()
    assert deleted == [] and len(window.table.get_children()) == 2
    window.delete_button.invoke()
    assert deleted == [True] and window.table.get_children() == ()
    window.close()
    window.run()  # returns at once, and frees the Tk objects on this thread
    assert window.done and window.root is None
