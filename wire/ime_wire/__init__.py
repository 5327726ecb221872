"""The wire contract of ime-agent, ime-collector and ime-research.

Everything that crosses from one program to another is defined here, and this
package needs nothing but ``cryptography``:

- :mod:`ime_wire.vocabulary` — categories, slots and their closed values, app categories
- :mod:`ime_wire.timebucket` — 15-minute buckets and coarser precisions
- :mod:`ime_wire.summary` — the :class:`Summary` record, its wire form and validation
- :mod:`ime_wire.manifest` — signed study manifests
- :mod:`ime_wire.envelope` — batches sealed with HPKE to the study key, signed by the device
- :mod:`ime_wire.signing` — signed HTTP requests
- :mod:`ime_wire.joincode` — single-use join codes and the hash the collector keeps of them
- :mod:`ime_wire.files` — reading a small file a person named, bounded (never a device or a FIFO)
- :mod:`ime_wire.keys`, :mod:`ime_wire.urls`, :mod:`ime_wire.canonical` — encodings and checks
- :mod:`ime_wire.errors` — the contract's exceptions
"""

__version__ = "0.3.0"

#: The version of the summary schema and vocabulary; bound into every envelope and manifest.
SCHEMA_VERSION = 1
#: The collector's HTTP API prefix.
API_PREFIX = "/v1"
