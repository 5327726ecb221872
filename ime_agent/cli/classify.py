"""``ime-agent classify``: run the on-device intent classifier from the shell.

Thin layer over :func:`classifiers.load`: arguments or JSON lines in, one
result per input out, in order. Stdin is read and classified in chunks, so a
few thousand lines go through ``nlp.pipe`` in a handful of batches while output
streams. Nothing here prints, logs or stores the input text; the table shows
an input number instead of the text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

import click

from ime_agent.errors import ClassifierError, ClassifyInputError

CHUNK = 1000


MAX_LINE_BYTES = 4 * 1024 * 1024


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def read_jsonl(stream: BinaryIO, chunk: int = CHUNK) -> Iterator[list[str]]:
    """Yield lists of texts from JSON lines read as bytes (any locale); on a bad line yield what
    came before it, then raise :class:`ClassifyInputError` naming the line. Lines are read in
    bounded pieces, so an endless line cannot grow memory."""
    batch: list[str] = []
    n = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        n += 1
        problem = None
        if len(raw) > MAX_LINE_BYTES:
            problem = f"longer than {MAX_LINE_BYTES // 2**20} MiB"
        elif raw.strip():
            try:
                obj = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
            except UnicodeDecodeError:
                problem = "not UTF-8 text"
            except RecursionError:
                problem = "JSON nested too deeply"
            except ValueError as exc:  # JSONDecodeError included
                problem = f"not valid JSON ({getattr(exc, 'msg', exc)})"
            else:
                if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                    problem = 'expected a JSON object with a string "text" field'
        else:
            continue
        if problem:
            if batch:
                yield batch
            raise ClassifyInputError(f'line {n}: {problem}; write one object per line, like {{"text": "..."}}')
        batch.append(obj["text"])
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def result_json(result) -> dict:
    d = result.to_dict()
    return {"intent": d.pop("label"), **d}


def _table_line(n: int, result) -> str:
    slots = " ".join(f"{k}={v}" for k, v in result.slots.items()) or "-"
    return f"{n:>5}  {result.label:<8}  {result.confidence:5.2f}  {result.lang:<4}  {slots}"


def _load_classifier():
    # thinc (under spaCy) imports torch at start-up whenever it is installed, as
    # the eval extra does: about 1 s and 200 MB for nothing, since the classifier
    # never uses it. This process only classifies, so keep torch out of it.
    if "thinc" not in sys.modules:
        sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    import classifiers  # heavy (spaCy): only when there is something to classify

    return classifiers.load()


def classify_texts(batches: Iterable[list[str]], as_json: bool, out: TextIO) -> int:
    """Classify each batch and write it out; returns how many inputs were classified."""
    clf = None
    n = 0
    for batch in batches:
        if clf is None:  # no input, no output: the model is loaded only when needed
            clf = _load_classifier()
            if not as_json:
                out.write(f"{'#':>5}  {'intent':<8}  {'conf':>5}  {'lang':<4}  slots\n")
        try:
            results = clf.classify_many(batch)
        except Exception as exc:  # only the type: the message could quote the text
            raise ClassifierError(f"the classifier failed ({type(exc).__name__}) on input {n + 1} or after; "
                                  "nothing more was classified") from None
        for result in results:
            n += 1
            out.write((json.dumps(result_json(result), ensure_ascii=False) if as_json else _table_line(n, result)) + "\n")
        out.flush()
    return n


@click.command("classify")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input instead of a table.")
@click.argument("texts", nargs=-1)
def classify_command(as_json: bool, texts: tuple[str, ...]) -> None:
    """Classify TEXT arguments as purchase / travel / health / none.

    With no TEXT, read JSON lines {"text": ...} from stdin and write one
    result per line, in order: intent, confidence, lang, slots, scores,
    model_id. The input text itself is never printed.
    """
    batches = [list(texts)] if texts else read_jsonl(sys.stdin.buffer)
    classify_texts(batches, as_json, sys.stdout)


def register(group: click.Group) -> None:
    group.add_command(classify_command)
