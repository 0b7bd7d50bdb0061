"""Packaged defaults for qdreamer, installed as ``pilot.conf``.

Only TOML lives here; ``pilot.config`` is the one loader.
"""
