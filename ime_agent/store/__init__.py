"""The local store of a profile: summaries, consent, pause, audit, studies and their outbox.

- :mod:`.db` — :class:`Store`, the one way in (tests use its public methods too)
- :mod:`.schema` — tables, numbered migrations, the SQLite connection
- :mod:`.keys` — where the profile key comes from (keyring, key file, passphrase)
- :mod:`.cipher` — sealing rows at rest (AES-GCM, padded, bound to the row)
- :mod:`.export` — export writers and the one helper for private files
- :mod:`.paths` — where a profile lives
"""

from ime_agent.store.db import NO_CONSENT, PAUSED, STORED, PausedState, Store, utcnow
from ime_agent.store.export import FORMATS as EXPORT_FORMATS
from ime_agent.store.paths import DB_NAME, profile_dir
from ime_agent.store.schema import LEVEL as SCHEMA_LEVEL

__all__ = ["Store", "PausedState", "utcnow", "profile_dir", "DB_NAME", "EXPORT_FORMATS", "SCHEMA_LEVEL",
           "STORED", "NO_CONSENT", "PAUSED"]
