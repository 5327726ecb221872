"""The research tool's exceptions; the CLI turns each into one ``Error: ...`` line.

::

    ResearchError
    ├── StudyDirError          a study directory is missing, incomplete or damaged
    │   └── WrongPassphrase    the passphrase does not open the study's keys
    ├── CollectorError         the collector refused a request (status and its problem detail)
    │   └── CollectorUnreachable   no answer from the collector (network, TLS, timeout)
    ├── FeedError              the collector's feed answered something that is not a feed page
    └── BudgetExceeded         a DP release would spend more than the study's budget left
"""


class ResearchError(Exception):
    """Something the researcher can fix; the message says how."""


class StudyDirError(ResearchError):
    """The study directory cannot be used as it is."""


class WrongPassphrase(StudyDirError):
    """The passphrase does not open the sealed keys."""


class CollectorError(ResearchError):
    """The collector answered with an error."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class CollectorUnreachable(CollectorError):
    """The collector could not be reached."""


class FeedError(ResearchError):
    """The collector's feed is not usable as it is."""


class BudgetExceeded(ResearchError):
    """A release was refused: it would exceed the study's privacy budget."""
