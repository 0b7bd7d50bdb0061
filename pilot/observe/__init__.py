"""Observability: logs, metrics, reports, progress bars and secret redaction."""
