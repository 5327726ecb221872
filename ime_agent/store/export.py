"""Export writers, and the one way to write a private file.

:func:`private_file` writes through a temporary file in the destination's
directory (mode 0600) and renames it into place, so a failed export leaves no
half-written file, a symbolic link or a device is refused instead of being
followed or having its mode changed, and ``-`` means standard output.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterator, TextIO

from ime_agent.errors import StoreError

FORMATS = ("jsonl", "csv")
COLUMNS = ("id", "bucket", "app_category", "lang", "intent", "confidence", "slots", "model_id")


@contextlib.contextmanager
def private_file(path: Path | str) -> Iterator[TextIO]:
    """A text stream to ``path`` (mode 0600, replaced atomically when the block succeeds), or
    to standard output for ``-``. Refuses anything that exists and is not a regular file."""
    if str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise StoreError(f"cannot write {path} ({exc.strerror}); choose another file with -o") from None
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise StoreError(f"{path} is a symbolic link; choose another file with -o (a plain file path, or - for "
                         "standard output)")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file; choose another file with -o (a plain file path, or - "
                         "for standard output)")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)  # mode 0600
    except OSError as exc:
        raise StoreError(f"cannot write {path} ({exc.strerror}); choose another file with -o") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StoreError(f"cannot write {path} ({exc.strerror}); choose another file with -o") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write(rows: list[dict], out: TextIO, fmt: str) -> None:
    """Summaries (as dicts) in ``fmt``: one JSON object per line, or CSV with slots as JSON."""
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        return
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "slots": json.dumps(row["slots"], ensure_ascii=False, sort_keys=True)})
    out.write(buffer.getvalue())
