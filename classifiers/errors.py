"""The classifier's own error (the runtime depends on no other package of the project)."""


class ModelNotFound(Exception):
    """A shipped intent model is missing or unreadable; the message says how to fix it."""
