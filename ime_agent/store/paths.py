"""Where a profile lives, and making its data dir private."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

from ime_agent import env
from ime_agent.errors import StoreError

DB_NAME = "ime-agent.db"


def profile_dir(base: Path, profile: str | None = None) -> Path:
    """The data dir of a profile: ``base`` itself for the default one, ``<base>-<name>`` for
    another (``IME_AGENT_PROFILE=testing`` keeps trial data apart from real data)."""
    profile = profile or env.get("IME_AGENT_PROFILE")
    if not profile or profile == "default":
        return Path(base)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,40}", profile):
        raise StoreError(f"bad profile name {profile!r}: use lower-case letters, digits, - and _ (e.g. testing)")
    return Path(base).with_name(f"{Path(base).name}-{profile}")


def prepare_data_dir(data_dir: Path) -> bool:
    """Create the data dir (0700) or tighten an existing one to 0700; True if it was created."""
    try:
        info = data_dir.lstat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise StoreError(f"cannot use data dir {data_dir} ({exc.strerror}); choose another with --data-dir") from None
    if info is not None and stat.S_ISLNK(info.st_mode):
        info = data_dir.stat() if data_dir.exists() else None  # a link to a dir is the user's choice
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"data dir {data_dir} is a file, not a directory; choose another with --data-dir")
    created = info is None
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if sys.platform != "win32" and data_dir.stat().st_mode & 0o077:
            os.chmod(data_dir, 0o700)  # summaries are private even if the dir was made by hand
    except OSError as exc:
        raise StoreError(f"cannot create data dir {data_dir} ({exc.strerror}); choose another with --data-dir") from None
    if not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
        raise StoreError(f"data dir {data_dir} is not readable and writable by you; fix its permissions "
                         f"(chmod u+rwx {data_dir}) or choose another with --data-dir")
    return created
