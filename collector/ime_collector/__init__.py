"""ime-collector: the collection server of ime-agent studies.

It keeps what participants' agents upload — batches sealed with HPKE to the
study's key, which it never holds — and hands them to the researcher, whose
requests are signed by the study key. The HTTP API is described in the
repository's ``docs/protocol.md``.

- :mod:`ime_collector.settings` — the environment, read in one place; defaults
- :mod:`ime_collector.storage` — one small interface, SQLite and PostgreSQL backends, migrations
- :mod:`ime_collector.service` — what the API does, as plain functions over a storage
- :mod:`ime_collector.app` — the Starlette application (routes, problem documents, limits)
- :mod:`ime_collector.cli` — ``ime-collector serve`` and ``ime-collector add-study``
"""

__version__ = "0.1.0"
