"""The runtime behind ``PilotComputeService``: submission, supervision, dependencies."""
