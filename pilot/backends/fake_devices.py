"""IBM's fake devices by name: the catalog that configuration validates against.

``qiskit_ibm_runtime.fake_provider`` ships real calibration snapshots of IBM
devices as JSON; this module names them (``lagos``, ``FakeLagosV2`` and
``fake_lagos`` are one device) and loads them on first use.  It imports no
adapter, so :mod:`pilot.config` can check ``quantum.noise.from_backend`` and
``quantum.backends`` without loading Aer.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pilot.errors import ConfigError


def fake_devices() -> dict[str, Any]:
    """Every fake device of ``qiskit_ibm_runtime.fake_provider`` by name (loaded lazily)."""
    import warnings

    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        # e.g. fake_nighthawk: "Properties ... are not intended to represent typical ... values"
        warnings.filterwarnings("ignore", message=".*not intended to represent typical")
        return {b.name: b for b in FakeProviderForBackendV2().backends()}


def normalise_fake_name(name: str) -> str:
    """``FakeLagosV2``, ``fake_lagos``, ``lagos`` -> ``fake_lagos``."""
    low = re.sub(r"v2$", "", str(name).strip().lower())
    low = low.removeprefix("fake_").removeprefix("fake")
    return "fake_" + low.strip("_")


@cache
def fake_device_names() -> tuple[str, ...]:
    """Names of the fake devices ``from_backend`` accepts (loaded once per process)."""
    return tuple(sorted(fake_devices()))


def device_name(raw: str) -> str:
    """``lagos``, ``FakeLagosV2``, ``fake_lagos`` -> ``fake_lagos``; else ``ConfigError``.

    The error lists the valid names and suggests the closest.
    """
    name = normalise_fake_name(raw)
    names = fake_device_names()
    if name not in names:
        raise ConfigError.unknown("fake device", "quantum.noise.from_backend", str(raw), names)
    return name
