"""Plots of results and rankings (matplotlib, optional)."""
