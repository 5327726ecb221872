"""ime-research: the researcher's side of a study.

Pull encrypted batches from the collector, verify and open them with the study's
key, keep them in a research database inside the study directory, and release
them as anonymized exports (with a codebook and a provenance manifest),
differentially private aggregates (with a budget ledger) and a report.
"""

__version__ = "0.1.0"
