"""Ready-made workloads: templates of common circuits (Bell, GHZ, QFT, QAOA, ansätze)
with their parameter schemas.  See docs/hybrid.md."""

from pilot.library.templates import (
    ENTANGLEMENTS,
    ROTATIONS,
    TEMPLATES,
    Edge,
    ParameterSpec,
    Template,
    bell,
    cut_value,
    ghz,
    hardware_efficient,
    maxcut_hamiltonian,
    qaoa_maxcut,
    qft,
    template,
)

__all__ = [
    "ENTANGLEMENTS",
    "ROTATIONS",
    "TEMPLATES",
    "Edge",
    "ParameterSpec",
    "Template",
    "bell",
    "cut_value",
    "ghz",
    "hardware_efficient",
    "maxcut_hamiltonian",
    "qaoa_maxcut",
    "qft",
    "template",
]
