"""The ``qdreamer`` command line."""
