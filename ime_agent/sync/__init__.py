"""Studies and sync: joining a signed study, and uploading sealed summaries to its collector.

- :mod:`.enroll` — ``study join``: the manifest checked, the participant asked, the device enrolled
- :mod:`.outbox` — what is due, sealed into batches whose bytes are frozen
- :mod:`.client` — the collector's HTTP API (httpx; transport injectable for tests)
- :mod:`.job` — the agent's periodic sync with back-off and jitter; ``ime-agent sync``
"""
