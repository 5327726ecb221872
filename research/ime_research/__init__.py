"""ime-research: the researcher's side of an ime-agent study.

- :mod:`ime_research.studydir` — the study directory: signed manifest, sealed private keys, settings
- :mod:`ime_research.client` — signed requests to the collector (:class:`CollectorClient`)
- :mod:`ime_research.study` — creating a study and inviting participants, as plain functions
- :mod:`ime_research.settings` — the environment, read in one place; defaults
- :mod:`ime_research.errors` — the tool's exceptions
- :mod:`ime_research.cli` — ``ime-research`` (thin click commands)
"""

__version__ = "0.1.0"
