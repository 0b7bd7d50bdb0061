"""Machine learning on pilots: :class:`QuantumLayer`, a torch module whose forward
pass runs its circuits on quantum pilots, and :class:`ParameterShiftCircuit`,
its gradients by the parameter-shift rule.  Needs the ``torch`` extra."""

from pilot.ml.layer import ParameterShiftCircuit, QuantumLayer

__all__ = ["ParameterShiftCircuit", "QuantumLayer"]
