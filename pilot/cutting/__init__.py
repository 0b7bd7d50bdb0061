"""Circuit cutting: fragments narrower than any one resource (``qiskit-addon-cutting``)."""

from pilot.cutting.plan import (
    CutEstimate,
    CutPlan,
    CuttingOptions,
    plan_cuts,
    plan_for,
    reconstruct,
)

__all__ = ["CutEstimate", "CutPlan", "CuttingOptions", "plan_cuts", "plan_for", "reconstruct"]
