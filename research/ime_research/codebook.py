"""The released columns and their codebook, generated from the wire contract's vocabulary.

Every column of an export is described here once: its type, the values it may
take (straight from :mod:`ime_wire.vocabulary`), its missing codes and what a
bucket means. The export writes exactly these columns, and ``codebook.json`` and
``codebook.md`` are rendered from the same list, so they cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ime_wire import vocabulary
from ime_wire.manifest import Manifest

#: Missing codes, shared by every column that can lack a value.
NOT_APPLICABLE = "not_applicable"
NOT_STATED = "not_stated"
WITHHELD = "withheld"
MISSING_CODES = (NOT_APPLICABLE, NOT_STATED, WITHHELD)
MISSING_MEANINGS = {
    NOT_APPLICABLE: "this slot does not belong to the row's intent",
    NOT_STATED: "the slot belongs to the intent, but the text named no value for it",
    WITHHELD: "the value was removed so that every row is shared by at least k participants",
}

#: Confidence is released only as a band: (name, lower bound included, upper bound excluded; 1.0 included in high).
CONFIDENCE_BANDS = (("low", 0.0, 0.6), ("medium", 0.6, 0.8), ("high", 0.8, 1.0))

#: Time precisions an export may start from, and what a window is.
TIME_PRECISIONS = {"15m": "15 minutes", "1h": "one hour", "1d": "one day (UTC)", "1w": "one week (UTC, from Monday)"}
#: Coarser first: the order in which time is generalised.
TIME_ORDER = ("15m", "1h", "1d", "1w")

CODEBOOK_VERSION = 1


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    values: tuple[str, ...] = ()  # allowed values; empty for free-form (the pseudonym, the time)
    missing: tuple[str, ...] = ()  # missing codes this column may hold
    quasi_identifier: bool = True  # counted for k-anonymity
    applies_to: str | None = None  # the intent a slot belongs to
    format: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def slot_names(manifest: Manifest) -> tuple[str, ...]:
    """The slots a study releases, in the vocabulary's order."""
    return tuple(name for name in vocabulary.SLOTS if name in manifest.slots)


def columns(manifest: Manifest) -> list[Column]:
    intents = tuple(c for c in vocabulary.CATEGORIES if c in manifest.categories)
    out = [
        Column("participant", "pseudonym of the participant: a keyed hash of their enrollment, new for every "
               "export unless the researcher reuses a saved pseudonym key", quasi_identifier=False,
               format="16 lower-case hex digits"),
        Column("time", "start of the time window the text was finished in (UTC); the row happened within "
               "[time, time + time_precision)", format="YYYY-MM-DDTHH:MM:SSZ"),
        Column("time_precision", "width of this row's time window: the export's precision, or coarser where "
               "the row was generalised for k-anonymity",
               values=TIME_ORDER, notes=tuple(f"{k}: {v}" for k, v in TIME_PRECISIONS.items())),
        Column("intent", "what the text was about, as the on-device classifier decided (rows of 'none' are "
               "never sent)", values=intents),
        Column("lang", "language the text was classified in", values=vocabulary.LANGS),
        Column("app_category", "kind of application the text was typed in (the app itself never leaves the "
               "device)", values=vocabulary.APP_CATEGORIES, missing=(WITHHELD,)),
        Column("confidence", "the classifier's confidence, as a band",
               values=tuple(name for name, _, _ in CONFIDENCE_BANDS), missing=(WITHHELD,),
               notes=tuple(f"{name}: {low:.1f} <= confidence < {high:.1f}" if high < 1 else
                           f"{name}: {low:.1f} <= confidence <= 1.0" for name, low, high in CONFIDENCE_BANDS)),
    ]
    for name in slot_names(manifest):
        intent = next(i for i, slots in vocabulary.SLOTS_FOR.items() if name in slots)
        out.append(Column(name, vocabulary.SLOT_DESCRIPTIONS[name], values=vocabulary.SLOTS[name],
                          missing=MISSING_CODES, applies_to=intent))
    return out


def codebook(manifest: Manifest, *, precision: str, k: int) -> dict:
    """The codebook as data (``codebook.json``)."""
    return {
        "codebook_version": CODEBOOK_VERSION,
        "study_id": manifest.study_id,
        "study_title": manifest.title,
        "file": "summaries.csv | summaries.jsonl | summaries.parquet (the same rows and values)",
        "row": "one intent summary: a piece of text a participant finished typing, classified on their "
               "device; the text itself was never kept",
        "k": k,
        "k_anonymity": f"every row's values in all columns but 'participant' are shared by at least {k} "
                       "distinct participants",
        "time_precision": precision,
        "missing_codes": MISSING_MEANINGS,
        "columns": [{
            "name": c.name, "type": "string", "description": c.description,
            **({"format": c.format} if c.format else {}),
            "values": list(c.values), "missing_codes": list(c.missing),
            **({"applies_to_intent": c.applies_to} if c.applies_to else {}),
            **({"notes": list(c.notes)} if c.notes else {}),
            "quasi_identifier": c.quasi_identifier,
        } for c in columns(manifest)],
    }


def to_json(book: dict) -> bytes:
    return (json.dumps(book, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def to_markdown(book: dict) -> bytes:
    lines = [
        f"# Codebook: {book['study_title']}",
        "",
        f"Study `{book['study_id']}`, codebook version {book['codebook_version']}.",
        "",
        f"- **File**: {book['file']}.",
        f"- **A row**: {book['row']}.",
        f"- **k-anonymity**: {book['k_anonymity']}.",
        f"- **Time precision**: {book['time_precision']} (rows generalised further say so in `time_precision`).",
        "",
        "## Missing codes",
        "",
        "| code | meaning |",
        "|---|---|",
        *[f"| `{code}` | {meaning} |" for code, meaning in book["missing_codes"].items()],
        "",
        "## Columns",
        "",
    ]
    for column in book["columns"]:
        lines += [f"### `{column['name']}`", "", column["description"] + ".", "",
                  f"- type: {column['type']}" + (f", {column['format']}" if column.get("format") else "")]
        if column.get("applies_to_intent"):
            lines.append(f"- applies to intent: `{column['applies_to_intent']}`")
        if column["values"]:
            lines.append("- values: " + ", ".join(f"`{v}`" for v in column["values"]))
        if column["missing_codes"]:
            lines.append("- missing codes: " + ", ".join(f"`{v}`" for v in column["missing_codes"]))
        lines += [f"- {note}" for note in column.get("notes", [])]
        lines.append("- counted for k-anonymity" if column["quasi_identifier"] else
                     "- not counted for k-anonymity (it is what k counts)")
        lines.append("")
    return ("\n".join(lines).rstrip() + "\n").encode()
