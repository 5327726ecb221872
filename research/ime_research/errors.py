"""The research tool's errors; the CLI turns each into one ``Error: ...`` line.

::

    ResearchError
    ├── BudgetExceeded     a DP release would spend more than the study's budget left
    └── FeedError          the collector's feed answered something that is not a feed page
"""


class ResearchError(Exception):
    """Something the researcher can fix; the message says how."""


class BudgetExceeded(ResearchError):
    """A release was refused: it would exceed the study's privacy budget."""


class FeedError(ResearchError):
    """The collector's feed is not usable as it is."""
