"""Rebuild ``../en.jsonl`` and ``../zh.jsonl`` from the plain-text lists here.

Each list is a run of ``@<label> <genre>`` headers, each followed by one text per line;
``@hard`` is a hard negative (written out as ``label: none, kind: hard_negative``), and
other none lines are ``kind: everyday``. Duplicates are reported and left out.
Run: ``python classifier_training/evalset/_src/build.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENRES = {"chat", "search", "email", "note", "code", "social", "doc"}
LABELS = {"purchase", "travel", "health", "none"}


def load(paths: list[Path], lang: str) -> list[tuple[dict, str]]:
    """(row, list label) for every text under a header, in order; ``hard`` is a list label."""
    rows, seen = [], set()
    list_label = genre = None
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if not text:
                continue
            if text.startswith("@"):
                list_label, genre = text[1:].split()
                if genre not in GENRES:
                    raise SystemExit(f"{path.name}: unknown genre {genre!r} in {text!r}")
                continue
            label = "none" if list_label == "hard" else list_label
            if label not in LABELS:
                raise SystemExit(f"{path.name}: unknown label {list_label!r} before {text!r}")
            if text in seen:
                print("duplicate, left out:", lang, text)
                continue
            seen.add(text)
            row = {"text": text, "label": label, "lang": lang, "genre": genre}
            if label == "none":
                row["kind"] = "hard_negative" if list_label == "hard" else "everyday"
            rows.append((row, list_label))
    return rows


def main() -> None:
    for lang in ("en", "zh"):
        rows = load([HERE / f"{lang}_pos.txt", HERE / f"{lang}_neg.txt"], lang)
        out = HERE.parent / f"{lang}.jsonl"
        out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row, _ in rows), encoding="utf-8")
        written = [row for row, _ in rows]
        print(lang, len(written), dict(Counter(r["label"] for r in written)), dict(Counter(r["genre"] for r in written)))
        print("  lists", dict(Counter(list_label for _, list_label in rows)))


if __name__ == "__main__":
    main()
