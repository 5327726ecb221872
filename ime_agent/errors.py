"""The one exception hierarchy of ime-agent.

Library code raises these with a message that says what happened and how to fix
it; the CLI turns them into a single ``error: ...`` line. Messages never carry
typed text.
"""


class ImeAgentError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class SessionFormatError(ImeAgentError):
    """A recorded key-event session is not valid format-v1 JSONL."""


class BackendUnavailable(ImeAgentError):
    """No live capture backend can run here (no display, missing extension, ...)."""


class ConfigError(ImeAgentError):
    """The user's configuration file or an environment override is invalid."""
