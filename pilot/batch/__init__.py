"""Batch submission: run a driver program inside a Slurm job (``qdreamer slurm submit``)."""
