"""Simulators that import nothing from ``pilot``: the torch statevector engine."""
