"""Pilots and the actor each quantum pilot runs (see docs/architecture.md)."""
