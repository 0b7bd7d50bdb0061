"""Braket calibration schemas and queue information -> QDREAMER data (real schema objects)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from braket.device_schema import GateModelQpuParadigmProperties
from braket.device_schema.standardized_gate_model_qpu_device_properties_v1 import (
    StandardizedGateModelQpuDeviceProperties as StandardizedV1,
)
from braket.device_schema.standardized_gate_model_qpu_device_properties_v2 import (
    StandardizedGateModelQpuDeviceProperties as StandardizedV2,
)
from braket.device_schema.standardized_gate_model_qpu_device_properties_v3 import (
    StandardizedGateModelQpuDeviceProperties as StandardizedV3,
)

from dreamer.fidelity import FidelityModels
from dreamer.resource import ResourceCapabilities
from dreamer.workload import WorkloadProfile
from pilot.backends.braket_properties import calibration, queue_count, status_from_metadata

PARADIGM = GateModelQpuParadigmProperties.parse_obj(
    {
        "braketSchemaHeader": {
            "name": "braket.device_schema.gate_model_qpu_paradigm_properties",
            "version": "1",
        },
        "qubitCount": 3,
        "nativeGateSet": ["rx", "rz", "cz"],
        "connectivity": {
            "fullyConnected": False,
            "connectivityGraph": {"1": ["2"], "2": ["1", "3"], "3": ["2"]},
        },
    }
)


def fidelity(name: str, value: float, unit: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"fidelityType": {"name": name}, "fidelity": value}
    if unit:
        entry["unit"] = "fraction"
    return entry


def per_qubit(version: str) -> dict[str, Any]:
    unit = version == "2"
    time_unit = "s" if unit else "us"
    one = {
        str(q): {
            "T1": {"value": 30.0, "standardError": 0.1, "unit": time_unit},
            "T2": {"value": 40.0, "standardError": 0.1, "unit": time_unit},
            "oneQubitFidelity": [
                fidelity("RANDOMIZED_BENCHMARKING", rb, unit),
                fidelity("READOUT", ro, unit),
            ],
        }
        for q, rb, ro in ((1, 0.999, 0.95), (2, 0.998, 0.97), (3, 0.997, 0.99))
    }
    two = {
        pair: {
            "twoQubitGateFidelity": [
                {**fidelity("INTERLEAVED_RANDOMIZED_BENCHMARKING", f, unit), "gateName": "CZ"}
            ]
        }
        for pair, f in (("1-2", 0.97), ("2-3", 0.99))
    }
    return {
        "braketSchemaHeader": {
            "name": "braket.device_schema.standardized_gate_model_qpu_device_properties",
            "version": version,
        },
        "oneQubitProperties": one,
        "twoQubitProperties": two,
    }


@pytest.mark.parametrize("schema", [StandardizedV1, StandardizedV2], ids=["v1", "v2"])
def test_per_qubit_standardized_schemas(schema: Any) -> None:
    std = schema.parse_obj(per_qubit(schema.__module__[-1]))
    cal = calibration(SimpleNamespace(paradigm=PARADIGM, standardized=std))
    # IQM-style 1-based labels become dense indices 0..2
    assert cal["labels"] == ["1", "2", "3"]
    assert cal["coupling"] == ((0, 1), (1, 0), (1, 2), (2, 1))
    assert cal["gate_errors"][("rx", (0,))] == pytest.approx(0.001)
    assert cal["gate_errors"][("cz", (1, 2))] == pytest.approx(0.01)
    assert cal["gate_errors"][("cz", (0, 1))] == pytest.approx(0.03)
    assert cal["readout_errors"] == pytest.approx({0: 0.05, 1: 0.03, 2: 0.01})
    # The estimator uses it: a Bell pair goes on the better coupler (2-3 -> indices 1, 2)
    caps = ResourceCapabilities(
        name="garnet",
        executor="braket_qpu",
        provider="aws",
        num_qubits=3,
        noisy=True,
        simulator=False,
        coupling_map=cal["coupling"],
        gate_errors=cal["gate_errors"],
        readout_errors=cal["readout_errors"],
    )
    bell = WorkloadProfile(
        num_qubits=2, one_qubit={0: 1}, interactions={(0, 1): 1}, measured=(0, 1)
    )
    assert set(FidelityModels().estimate(caps, bell).layout) == {1, 2}


def test_device_level_standardized_v3() -> None:
    std = StandardizedV3.parse_obj(
        {
            "braketSchemaHeader": {
                "name": "braket.device_schema.standardized_gate_model_qpu_device_properties",
                "version": "3",
            },
            "oneQubitProperties": None,
            "T1": {"value": 10.0, "standardError": 0.1, "unit": "s"},
            "T2": {"value": 1.0, "standardError": 0.1, "unit": "s"},
            "readoutFidelity": [{"fidelity": 0.995, "unit": "fraction"}],
            "readoutDuration": {"value": 0.00035, "standardError": None, "unit": "s"},
            "singleQubitGateDuration": {"value": 0.00002, "standardError": None, "unit": "s"},
            "singleQubitFidelity": [
                {
                    "fidelityType": {"name": "RANDOMIZED_BENCHMARKING"},
                    "fidelity": 0.9995,
                    "unit": "fraction",
                }
            ],
            "twoQubitGateFidelity": [
                {
                    "fidelityType": {"name": "RANDOMIZED_BENCHMARKING"},
                    "fidelity": 0.99,
                    "unit": "fraction",
                }
            ],
            "twoQubitGateDuration": {"value": 0.0006, "standardError": None, "unit": "s"},
        }
    )
    paradigm = GateModelQpuParadigmProperties.parse_obj(
        {
            "qubitCount": 36,
            "nativeGateSet": ["gpi", "gpi2", "zz"],
            "connectivity": {"fullyConnected": True, "connectivityGraph": {}},
        }
    )
    cal = calibration(SimpleNamespace(paradigm=paradigm, standardized=std))
    assert cal["coupling"] is None  # all-to-all
    assert cal["default_errors"] == pytest.approx({"1q": 0.0005, "2q": 0.01, "readout": 0.005})
    assert cal["durations"] == pytest.approx({"1q": 2e-5, "2q": 6e-4, "readout": 3.5e-4})


def test_ionq_provider_fidelities_when_nothing_is_standardized() -> None:
    provider = SimpleNamespace(
        fidelity={"1Q": {"mean": 0.9998}, "2Q": {"mean": 0.996}, "spam": {"mean": 0.9939}}
    )
    paradigm = GateModelQpuParadigmProperties.parse_obj(
        {
            "qubitCount": 25,
            "nativeGateSet": ["gpi", "gpi2", "ms"],
            "connectivity": {"fullyConnected": True, "connectivityGraph": {}},
        }
    )
    cal = calibration(SimpleNamespace(paradigm=paradigm, standardized=None, provider=provider))
    assert cal["default_errors"] == pytest.approx({"1q": 2e-4, "2q": 4e-3, "readout": 6.1e-3})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", (12, False)),
        (">4000", (4000, True)),
        (" 0 ", (0, False)),
        ("n/a", (0, False)),
    ],
)
def test_queue_sizes_are_normalised(text: str, expected: tuple[int, bool]) -> None:
    assert queue_count(text) == expected


def test_status_from_get_device_with_normal_and_priority_queues() -> None:
    status = status_from_metadata(
        {
            "deviceStatus": "ONLINE",
            "deviceQueueInfo": [
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": ">4000", "queuePriority": "Normal"},
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "15", "queuePriority": "Priority"},
                {"queue": "JOBS_QUEUE", "queueSize": "3"},
            ],
        },
        typical_job_seconds=60,
    )
    assert status.online and status.queue_depth == 4000 and status.priority_queue_depth == 15
    assert status.queue_is_lower_bound and status.typical_job_seconds == 60
    offline = status_from_metadata({"deviceStatus": "OFFLINE"}, None)
    assert not offline.online and offline.message == "OFFLINE"
