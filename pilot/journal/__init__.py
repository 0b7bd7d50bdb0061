"""Durable results: the SQLite task journal and the object-store sink."""
