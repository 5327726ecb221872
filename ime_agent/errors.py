"""The one exception hierarchy of ime-agent.

Library code raises these with a message that says what happened and how to fix
it; the CLI turns each into a single ``Error: ...`` line. Messages never carry
typed text. ::

    ImeAgentError
    ├── ConfigError             the config file or an environment variable is invalid
    ├── BadInput                a command-line value cannot be used
    ├── SessionFormatError      a recorded key-event session is invalid
    ├── ClassifyInputError      a line given to `ime-agent classify` is invalid
    ├── BackendUnavailable      capture or the tray cannot run here (no display, no RECORD, ...)
    ├── ClassifierError         the on-device classifier is missing or failed
    ├── ConsentError            a consent choice is not valid
    │   └── NoConsent           nothing is consented, so nothing may be captured or stored
    ├── AlreadyRunning          another agent runs for this profile
    ├── StoreError              the local store cannot be opened or used as asked
    │   ├── SchemaTooNew        the store was written by a newer ime-agent
    │   └── KeyUnavailable      the profile key is missing, unreadable or unsafe
    │       └── WrongKey        the key or passphrase does not open this profile
    └── StudyError              a study cannot be joined or used (manifest refused, not enrolled, ...)
        └── SyncError           the collector could not be reached or refused an upload
"""


class ImeAgentError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class ConfigError(ImeAgentError):
    """The user's configuration file or an environment override is invalid."""


class BadInput(ImeAgentError):
    """A command-line value that cannot be used."""


class SessionFormatError(ImeAgentError):
    """A recorded key-event session is not valid JSONL of the key-event format."""


class ClassifyInputError(ImeAgentError):
    """A stdin line for ``ime-agent classify`` is not a JSON object with a "text" string."""


class BackendUnavailable(ImeAgentError):
    """No live capture backend (or tray) can run here: no display, missing extension, ..."""


class ClassifierError(ImeAgentError):
    """The classifier's model is missing or it failed on a batch (the message names only the error type)."""


class ConsentError(ImeAgentError):
    """A consent choice is not valid, or an action needs consent that was not given."""


class NoConsent(ConsentError):
    """No category is consented: nothing may be captured or stored."""

    def __init__(self):
        super().__init__("no consent given, so nothing is captured or stored; run `ime-agent consent grant` first")


class AlreadyRunning(ImeAgentError):
    """Another agent holds this profile's lock."""

    def __init__(self, pid: int | None, data_dir):
        self.pid = pid
        who = f"PID {pid}" if pid else "PID unknown"
        super().__init__(f"ime-agent is already running for this profile ({who}, data dir {data_dir}); "
                         "use `ime-agent status`, or quit it from the tray")


class StoreError(ImeAgentError):
    """The store cannot be opened or used as asked."""


class SchemaTooNew(StoreError):
    """The store's schema is newer than this build understands."""


class KeyUnavailable(StoreError):
    """The profile key is missing, unreadable, unsafe, or cannot be made."""


class WrongKey(KeyUnavailable):
    """The key (or passphrase) does not open this profile."""


class StudyError(ImeAgentError):
    """A study cannot be joined or used: its manifest is refused, the profile is not enrolled, ..."""


class SyncError(StudyError):
    """The collector could not be reached, or refused what was sent."""
