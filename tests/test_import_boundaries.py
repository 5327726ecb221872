"""The packages' boundaries: the classifier's runtime imports nothing of the agent and reads no
training data; the wire contract needs only cryptography."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    return set(out.split())


def test_the_classifier_runtime_never_imports_the_agent_or_its_training():
    modules = loaded_after("import classifiers; classifiers.load().classify('new laptop for uni')")
    assert not {m for m in modules if m.startswith(("ime_agent", "classifier_training"))}


def test_the_wire_contract_imports_only_cryptography():
    modules = loaded_after("import ime_wire, ime_wire.envelope, ime_wire.manifest, ime_wire.summary, "
                           "ime_wire.signing, ime_wire.joincode")
    tops = {m.split(".")[0] for m in modules if not m.startswith(("__", "_distutils_hack"))}
    third_party = tops - set(sys.stdlib_module_names) - {"ime_wire", "_cffi_backend", "_openssl"}
    assert third_party <= {"cryptography", "pybase64"}, third_party
