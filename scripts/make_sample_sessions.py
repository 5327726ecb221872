"""Write the bundled sample sessions (ime_agent/data/samples/), deterministically.

The samples are the project's own invented typing, for `ime-agent demo` and the
README's first command. Run: python scripts/make_sample_sessions.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "ime_agent" / "data" / "samples"


class Session:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.t = 0.0
        self.events: list[dict] = []

    def _tick(self, low=0.05, high=0.25):
        self.t = round(self.t + self.rng.uniform(low, high), 3)
        return self.t

    def key(self, key):
        self.events.append({"t": self._tick(), "type": "press", "key": key})
        self.events.append({"t": self._tick(0.02, 0.06), "type": "release", "key": key})

    def type(self, text):
        for char in text:
            self.key("Key.space" if char == " " else char)

    def combo(self, modifier, key):
        self.events.append({"t": self._tick(), "type": "press", "key": modifier})
        self.key(key)
        self.events.append({"t": self._tick(0.02, 0.06), "type": "release", "key": modifier})

    def focus(self, app, title, secure=False):
        self.events.append({"t": self._tick(0.5, 1.5), "type": "focus", "app": app, "title": title,
                            "secure": secure})

    def ime(self, text):
        self.events.append({"t": self._tick(0.6, 1.2), "type": "text", "text": text})

    def write(self, name):
        OUT.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(event, ensure_ascii=False) for event in self.events]
        (OUT / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def english() -> Session:
    s = Session(1)
    s.focus("firefox", "New Tab - Mozilla Firefox")
    s.type("best 14 inch laptop for uni under 900")
    s.key("Key.enter")
    s.focus("slack", "Slack")
    s.type("anyone been to dali with kids? thinking 5 dyas")
    for _ in range(4):
        s.key("Key.backspace")
    s.type("days in october")
    s.key("Key.enter")
    s.type("the health check endpoint keeps returning 500 again")
    s.key("Key.enter")
    s.focus("keepassxc", "Unlock Database - KeePassXC", secure=True)
    s.type("correct horse battery")
    s.key("Key.enter")
    s.focus("thunderbird", "Write: appointment - Thunderbird")
    s.type("my knee hurts going downstairs since the hike, could I book a physio slot")
    s.key("Key.tab")
    s.focus("gnome-terminal", "user@host: ~")
    s.type("ssh build-server")
    s.key("Key.enter")
    return s


def chinese() -> Session:
    s = Session(2)
    s.focus("wechat", "WeChat")
    s.ime("想换个")
    s.type("MacBook")
    s.ime("，预算一万左右有推荐吗")
    s.key("Key.enter")
    s.ime("国庆带爸妈去大理玩五天，求攻略")
    s.key("Key.enter")
    s.ime("这锅我不买单")
    s.key("Key.enter")
    s.focus("firefox", "登录 - 银行 - Mozilla Firefox")
    s.type("s3cret-pin")
    s.key("Key.enter")
    s.focus("libreoffice-writer", "日记.odt - LibreOffice Writer")
    s.ime("最近早上总是起不来，一直很累")
    s.key("Key.enter")
    return s


if __name__ == "__main__":
    english().write("sample-en.jsonl")
    chinese().write("sample-zh.jsonl")
