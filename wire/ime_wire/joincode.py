"""Join codes: single-use invitations to a study, made on the researcher's machine.

A code is 15 characters of Crockford base32 (75 random bits), shown in three
groups, ``XXXXX-XXXXX-XXXXX``. People retype codes, so reading one forgives case,
dashes and blanks, and Crockford's look-alikes (``O`` is ``0``; ``I`` and ``L``
are ``1``). The collector stores only :func:`code_hash`, which a copy of its
database cannot turn back into a usable code.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
LENGTH = 15
BITS = 5 * LENGTH
GROUP = 5
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CONTEXT = "ime-wire/join-code/v1\0"


def new_code() -> str:
    """A fresh random code in its display form, ``XXXXX-XXXXX-XXXXX``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(text: object) -> str:
    """The code's 15 characters, upper-cased, without dashes or blanks; ValueError if it is not a code."""
    if not isinstance(text, str):
        raise ValueError("a join code is text like XXXXX-XXXXX-XXXXX")
    code = "".join(ch for ch in text.upper() if ch not in "- \t").translate(_LOOK_ALIKES)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        raise ValueError(f"a join code has {LENGTH} letters and digits, like XXXXX-XXXXX-XXXXX; "
                         "check the code you were given")
    return code


def code_hash(study_id: str, code: str) -> str:
    """What the collector keeps of a code: hex SHA-256 of the context, the study id and the normalised code."""
    return hashlib.sha256((_CONTEXT + study_id + normalise(code)).encode("ascii")).hexdigest()
