"""Launchers bring up and tear down the Ray capacity behind pilots."""

from pilot.errors import ConfigError
from pilot.launchers.base import Allocation, Launcher
from pilot.launchers.local import LocalLauncher
from pilot.launchers.slurm import SlurmLauncher

LAUNCHERS: dict[str, type[Launcher]] = {"local": LocalLauncher, "slurm": SlurmLauncher}


def launcher_for(resource: str) -> Launcher:
    scheme = resource.split("://", 1)[0]
    try:
        return LAUNCHERS[scheme]()
    except KeyError:
        raise ConfigError.unknown("resource", "resource", resource, LAUNCHERS) from None


__all__ = [
    "LAUNCHERS",
    "Allocation",
    "Launcher",
    "LocalLauncher",
    "SlurmLauncher",
    "launcher_for",
]
