"""Observability: logs, metrics, reports and progress bars (secret redaction, which
everything below uses, is :mod:`pilot.redaction`)."""
