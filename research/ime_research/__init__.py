"""ime-research: the researcher's side of an ime-agent study.

- :mod:`ime_research.studydir` — the study directory: signed manifest, sealed private keys, settings
- :mod:`ime_research.client` — signed requests to the collector (:class:`CollectorClient`)
- :mod:`ime_research.study` — creating a study and inviting participants, as plain functions
- :mod:`ime_research.pull` — fetch, verify, open and validate batches into the research database
- :mod:`ime_research.researchdb` — the research database inside the study directory
- :mod:`ime_research.export`, :mod:`ime_research.kanon`, :mod:`ime_research.pseudonyms`,
  :mod:`ime_research.codebook` — anonymized exports with a codebook and a provenance manifest
- :mod:`ime_research.dp` — differentially private aggregates and the privacy-budget ledger
- :mod:`ime_research.report`, :mod:`ime_research.charts` — the HTML report
- :mod:`ime_research.settings` — the environment, read in one place; defaults
- :mod:`ime_research.errors` — the tool's exceptions
- :mod:`ime_research.cli`, :mod:`ime_research.commands` — ``ime-research`` (thin click commands)
"""

__version__ = "0.1.0"
