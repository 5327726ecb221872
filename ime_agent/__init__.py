"""ime-agent: consented, local-first input-method intent capture for research."""

__version__ = "0.1.0"
