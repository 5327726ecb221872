"""The research tool's defaults, and the one place it reads the environment."""

from __future__ import annotations

import os

#: The passphrase that seals the study's private keys (else the tool asks for it).
PASSPHRASE_ENV = "IME_RESEARCH_PASSPHRASE"

DEFAULT_REVIEW_HOLD = "24h"
DEFAULT_DP_BUDGET = 10.0
DEFAULT_RETENTION_DAYS = 30
DEFAULT_STUDY_DAYS = 365
DEFAULT_INVITE_EXPIRY = "14d"
#: Argon2id cost for sealing the study's keys (RFC 9106's second recommendation: 64 MiB, 3 passes).
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_ITERATIONS = 3
ARGON2_LANES = 4
HTTP_TIMEOUT_S = 30.0


def passphrase_from_environment(environ=os.environ) -> str | None:
    return environ.get(PASSPHRASE_ENV) or None
