"""The wire contract's errors. Every message says what is wrong and never quotes a value
that could be typed text (values outside a vocabulary are named by their field only).

::

    WireError
    ├── InvalidSummary      a summary (or batch) breaks the schema or the vocabulary
    ├── InvalidManifest     a study manifest is malformed, unsigned, tampered with, not yet open or expired
    ├── BadSignature        an Ed25519 signature does not verify
    └── EnvelopeError       an envelope does not open (wrong key, wrong context, damaged)
"""


class WireError(Exception):
    """Base class of the wire contract's errors."""


class InvalidSummary(WireError):
    """A summary or batch is not valid for this schema version and vocabulary."""


class InvalidManifest(WireError):
    """A study manifest cannot be trusted or used."""


class BadSignature(WireError):
    """A signature does not verify against the key it names."""


class EnvelopeError(WireError):
    """A sealed batch does not open with this key and context."""
