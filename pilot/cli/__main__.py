"""``python -m pilot.cli``: the ``qdreamer`` command."""

from pilot.cli.main import main

main()
