"""The tray's "Review my summaries" window and the "Delete my data…" question (tkinter).

Both only show and ask: the caller passes the summaries (:class:`ime_agent.store.Summary`
or anything with the same attributes) and does the deleting. Summaries hold no typed
text, so this window cannot show any.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ime_agent.ui import tk

TITLE = "ime-agent: your summaries"
WM_CLASS = "ime-agent-review"
COLUMNS = (("bucket", "When (UTC)", 140), ("app_category", "App type", 90), ("lang", "Lang", 50),
           ("intent", "Kind", 90), ("confidence", "Confidence", 100), ("slots", "Details", 260))

DELETE_QUESTION = ("Delete everything ime-agent keeps for this profile: all summaries and counts, "
                   "including those not yet sent to your study? This cannot be undone.")


def row(summary) -> tuple[str, ...]:
    """One summary as the table shows it."""
    slots = ", ".join(f"{key}: {value}" for key, value in sorted(summary.slots.items())) or "-"
    when = summary.bucket.replace("T", " ")[:16]  # the 15-minute window's start
    return (when, summary.app_category, summary.lang,
            summary.intent, f"{summary.confidence:.0%}", slots)


class ReviewWindow:
    """A read-only table of the kept summaries, with "Delete all…" and "Close"."""

    def __init__(self, summaries: Iterable, on_delete_all: Callable[[], object], master=None):
        import tkinter
        from tkinter import ttk

        self._on_delete_all = on_delete_all
        self.done = False
        self.root = tkinter.Tk(className=WM_CLASS) if master is None else tkinter.Toplevel(master)
        self.root.title(TITLE)
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self.root.bind("<Escape>", lambda _e: self.close())
        frame = tkinter.Frame(self.root, padx=12, pady=10)
        frame.pack(fill="both", expand=True)
        rows = [row(s) for s in summaries]
        tkinter.Label(frame, anchor="w", text=f"{len(rows)} summaries kept on this device. "
                 "This is everything that could be shared with your study; your typed text is never kept."
                 ).pack(fill="x", pady=(0, 6))
        buttons = tkinter.Frame(frame, pady=8)
        buttons.pack(side="bottom", fill="x")
        tkinter.Button(buttons, text="Close", width=12, command=self.close).pack(side="right")
        self.delete_button = tkinter.Button(buttons, text="Delete all…", width=12, command=self.delete_all,
                                       state="normal" if rows else "disabled")
        self.delete_button.pack(side="left")
        self.table = ttk.Treeview(frame, columns=[c for c, _, _ in COLUMNS], show="headings", height=14)
        for column, heading, width in COLUMNS:
            self.table.heading(column, text=heading)
            self.table.column(column, width=width, stretch=column == "slots")
        for values in rows:
            self.table.insert("", "end", values=values)
        scroll = ttk.Scrollbar(frame, orient="vertical", command=self.table.yview)
        self.table.configure(yscrollcommand=scroll.set)
        scroll.pack(side="right", fill="y")
        self.table.pack(fill="both", expand=True)

    def delete_all(self) -> None:
        if ask_delete_everything(self.root):
            self._on_delete_all()
            self.table.delete(*self.table.get_children())
            self.delete_button.configure(state="disabled")

    def close(self) -> None:
        self.done = True
        self.root.destroy()

    def run(self) -> None:
        """Wait until closed; afterwards the widgets are gone (see :func:`ime_agent.ui.tk.release`)."""
        if not self.done:
            self.root.wait_window(self.root)
        tk.release(self)


def ask_delete_everything(parent=None) -> bool:
    """The "Delete my data…" question; True only if the user clicks Yes."""
    from tkinter import messagebox

    return messagebox.askyesno("ime-agent: delete my data", DELETE_QUESTION, icon="warning",
                               default="no", parent=parent)
