"""The collector's errors; the CLI turns each into one ``Error: ...`` line, the API into a problem document.

::

    CollectorError
    ├── DatabaseURLError      --db / IME_COLLECTOR_DB is not a URL the collector can use
    ├── StorageError          the database cannot be opened or reached
    │   └── SchemaTooNew      the database was migrated by a newer ime-collector
    └── StudyConflict         another manifest is already registered under this study id
"""


class CollectorError(Exception):
    """Base class of the collector's own errors."""


class DatabaseURLError(CollectorError):
    """The database URL is malformed or names an unsupported database."""


class StorageError(CollectorError):
    """The database cannot be opened, migrated or reached."""


class SchemaTooNew(StorageError):
    """The database's schema is newer than this build knows."""


class StudyConflict(CollectorError):
    """A different manifest is already registered for the study id."""
