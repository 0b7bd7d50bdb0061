"""How long a task waits and runs on a resource.

``expected_completion = expected_wait + estimated_run``, where the wait is
the predicted queue ahead of the task (the provider's queue plus our own
tasks it does not count yet: :func:`predicted_queue`) times the typical
duration of one queued job (the provider's figure when it has one, else this
task's own run time), and
the run time comes from the device's durations:

* QPUs: ``task_overhead + shots * (circuit + readout + shot_overhead)``, the
  circuit's duration being its depth times the two-qubit gate time;
* simulators: ``task_overhead + shots * shot_overhead`` plus a state-vector
  term that doubles with every qubit.
"""

from __future__ import annotations

from dreamer.resource import ResourceCapabilities, ResourceStatus
from dreamer.workload import WorkloadProfile

#: Used when a resource reports no durations (seconds).
DEFAULT_QPU_DURATIONS = {
    "1q": 5e-8,
    "2q": 5e-7,
    "readout": 1e-6,
    "shot_overhead": 2.5e-4,
    "task_overhead": 5.0,
}
DEFAULT_SIMULATOR_DURATIONS = {"task_overhead": 2e-3, "shot_overhead": 1e-6, "amplitude_op": 2e-9}


def estimate_run_seconds(profile: WorkloadProfile, caps: ResourceCapabilities) -> float:
    shots = profile.shots or 0
    if caps.simulator:
        d = {**DEFAULT_SIMULATOR_DURATIONS, **caps.durations}
        gates = profile.one_qubit_gates + profile.two_qubit_gates + profile.num_qubits
        state = gates * (2.0 ** min(profile.num_qubits, 40)) * d["amplitude_op"]
        if caps.noisy:  # density matrix / trajectories cost about the square
            state *= 2.0 ** min(profile.num_qubits, 40) / 64
        return d["task_overhead"] + shots * d["shot_overhead"] + state
    d = {**DEFAULT_QPU_DURATIONS, **caps.durations}
    circuit = max(profile.depth, 1) * max(d["2q"], d["1q"]) + d["readout"]
    return d["task_overhead"] + shots * (circuit + d["shot_overhead"])


def predicted_queue(status: ResourceStatus | None) -> float:
    """Jobs ahead of a new task: the provider's queue plus our own tasks it does not
    count yet, spread over the jobs the resource runs at once."""
    if status is None:
        return 0.0
    servers = max(1, status.servers)
    return status.queue_depth + status.priority_queue_depth + status.ours / servers


def job_seconds(status: ResourceStatus | None, run_seconds: float) -> float:
    """How long one job ahead takes: the provider's typical figure, else this task's run."""
    if status is not None and status.typical_job_seconds is not None:
        return status.typical_job_seconds
    return run_seconds


def expected_wait_seconds(status: ResourceStatus | None, run_seconds: float) -> float:
    """The predicted queue times one job's seconds; for a provider that reports its
    wait itself (``queue_seconds``), that wait plus our own tasks it does not count yet."""
    if status is not None and status.queue_seconds is not None:
        servers = max(1, status.servers)
        return status.queue_seconds + status.ours / servers * job_seconds(status, run_seconds)
    return predicted_queue(status) * job_seconds(status, run_seconds)
