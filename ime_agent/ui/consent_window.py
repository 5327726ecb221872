"""The first-run consent window (tkinter, which ships with Python everywhere).

It shows the consent text — what is watched, what is kept, what never leaves the
device — and one checkbox per intent category, then returns the user's choice.
It records nothing itself: the caller stores the answer and must not capture
anything unless it got one.

Defaults (:data:`ime_agent.consent.DEFAULT_CATEGORIES`): purchase and travel are
ticked, because they are what studies ask about and their summaries are coarse (a
product type, a destination); health is never ticked in advance, because it is
sensitive (special-category data under GDPR art. 9) and must be an explicit
choice. Nothing is agreed to until Confirm; closing the window or Escape is
"Not now". Reopened from the tray, the boxes show the current choices instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from ime_agent.consent import CONSENT_TEXT, DEFAULT_CATEGORIES
from ime_agent.ui import tk


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    detail: str


CATEGORIES = (
    Category("purchase", "Shopping", "things you look for or plan to buy (e.g. \"laptop\")"),
    Category("travel", "Travel", "trips you plan (e.g. \"Vietnam\")"),
    Category("health", "Health", "symptoms or care you mention (e.g. \"sleep\"); off unless you tick it"),
)

TITLE = "ime-agent: your consent"
WM_CLASS = "ime-agent-consent"


class ConsentWindow:
    """Build with :meth:`__init__` (the window appears), then :meth:`run` until answered.

    ``result`` is ``None`` until Confirm (then ``{category: bool}``); "Not now" leaves
    it ``None``. Widgets are attributes so tests can drive the real window.
    """

    def __init__(self, text: str = CONSENT_TEXT, categories=CATEGORIES, initial: dict[str, bool] | None = None,
                 master=None):
        import tkinter

        self.result: dict[str, bool] | None = None
        self.done = False
        self.root = tkinter.Tk(className=WM_CLASS) if master is None else tkinter.Toplevel(master)
        root = self.root
        root.title(TITLE)
        root.protocol("WM_DELETE_WINDOW", self.not_now)
        root.bind("<Escape>", lambda _e: self.not_now())  # no Return binding: consent is never a stray key

        body = tkinter.Frame(root, padx=16, pady=12)
        body.pack(fill="both", expand=True)
        tkinter.Label(body, text="Before ime-agent watches anything", font=("TkDefaultFont", 13, "bold"),
                 anchor="w").pack(fill="x")

        # Packed from the bottom up before the text, so on a small screen the text
        # (which scrolls) shrinks and the choices and buttons stay visible.
        buttons = tkinter.Frame(body, pady=10)
        buttons.pack(side="bottom", fill="x")
        self.confirm_button = tkinter.Button(buttons, text="Confirm", width=12, command=self.confirm)
        self.confirm_button.pack(side="right")
        self.not_now_button = tkinter.Button(buttons, text="Not now", width=12, command=self.not_now)
        self.not_now_button.pack(side="right", padx=(0, 8))

        choices = tkinter.Frame(body)
        choices.pack(side="bottom", fill="x")
        tkinter.Label(choices, text="Which kinds of intent may be summarised and shared with your study?",
                 anchor="w").pack(fill="x")
        self.values: dict[str, tkinter.BooleanVar] = {}
        self.boxes: dict[str, tkinter.Checkbutton] = {}
        for category in categories:
            on = initial.get(category.key, False) if initial is not None else category.key in DEFAULT_CATEGORIES
            var = tkinter.BooleanVar(master=root, value=on)
            box = tkinter.Checkbutton(choices, text=f"{category.label}: {category.detail}", variable=var, anchor="w")
            box.pack(fill="x", padx=(8, 0))
            self.values[category.key] = var
            self.boxes[category.key] = box

        self.text = tkinter.Text(body, wrap="word", width=88, height=len(text.splitlines()) + 1, relief="flat",
                            padx=4, pady=6, background=root.cget("background"), highlightthickness=0)
        self.text.insert("1.0", text)
        self.text.configure(state="disabled")  # read-only, but still selectable and scrollable
        self.text.pack(fill="both", expand=True, pady=(6, 10))

    def choices(self) -> dict[str, bool]:
        return {key: var.get() for key, var in self.values.items()}

    def confirm(self) -> None:
        self.result = self.choices()
        self._close()

    def not_now(self) -> None:
        self.result = None
        self._close()

    def _close(self) -> None:
        self.done = True
        self.root.destroy()

    def run(self) -> dict[str, bool] | None:
        """Wait for the answer; afterwards the widgets are gone (see :func:`ime_agent.ui.tk.release`)."""
        if not self.done:
            self.root.wait_window(self.root)
        tk.release(self)
        return self.result


def ask_consent(initial: dict[str, bool] | None = None, text: str = CONSENT_TEXT) -> dict[str, bool] | None:
    """Show the window and wait: ``{category: agreed}`` on Confirm, ``None`` on "Not now".

    ``initial`` pre-fills the boxes (the current choices, when changing consent later);
    the result suits :func:`ime_agent.consent.apply_choices`.
    """
    return ConsentWindow(text, initial=initial).run()
