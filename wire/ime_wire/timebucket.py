"""Time on the wire: never an exact moment, only the start of a window (UTC).

A summary carries the start of the 15-minute window its text was finished in,
as ``YYYY-MM-DDTHH:MM:SSZ``. Exports may coarsen it further (:func:`coarsen`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from datetime import UTC, datetime, timedelta

BUCKET_MINUTES = 15
#: Precisions an export can coarsen to, in seconds.
PRECISIONS = {"15m": 15 * 60, "1h": 3600, "1d": 86400, "1w": 7 * 86400}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """A ``...Z`` (or offset) ISO time; ValueError when it is not one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time needs a zone (…Z)")
    return moment.astimezone(UTC)


def bucket_of(moment: datetime) -> str:
    """The start of the 15-minute window (UTC) that ``moment`` falls in."""
    moment = moment.astimezone(UTC)
    return iso(moment.replace(minute=moment.minute - moment.minute % BUCKET_MINUTES, second=0, microsecond=0))


def is_bucket(text: object) -> bool:
    """Whether ``text`` is the start of a 15-minute window in the wire form."""
    return isinstance(text, str) and _is_bucket_text(str(text))


@lru_cache(maxsize=8192)  # a batch repeats the same few windows: parse each once
def _is_bucket_text(text: str) -> bool:
    if not _ISO.match(text):
        return False
    try:
        moment = parse_iso(text)
    except ValueError:
        return False
    return moment.minute % BUCKET_MINUTES == 0 and moment.second == 0


def coarsen(bucket: str, precision: str) -> str:
    """The start of the ``precision`` window (``15m``, ``1h``, ``1d``, ``1w``; weeks start on Monday)."""
    moment = parse_iso(bucket)
    if precision == "1w":
        day = moment.replace(hour=0, minute=0, second=0)
        return iso(day - timedelta(days=day.weekday()))
    seconds = PRECISIONS[precision]
    epoch = int(moment.timestamp())
    return iso(datetime.fromtimestamp(epoch - epoch % seconds, UTC))
