"""Architecture rules.

dreamer is pure Python; pilot imports optional SDKs only when an executor needs them.
"""

from __future__ import annotations

import subprocess
import sys

SDKS = (
    "ray",
    "qiskit",
    "qiskit_aer",
    "qiskit_ibm_runtime",
    "qiskit_ionq",
    "pennylane",
    "braket",
    "boto3",
    "torch",
)


def _imported_after(statement: str) -> set[str]:
    code = (
        f"import sys; {statement}; "
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.strip().split(","))


def test_dreamer_imports_no_sdk_and_no_ray() -> None:
    loaded = _imported_after(
        "import dreamer, dreamer.selector, dreamer.feasibility, dreamer.resource"
    )
    assert loaded.isdisjoint(SDKS), loaded & set(SDKS)
    assert "pilot" not in loaded


def test_pilot_imports_optional_sdks_lazily() -> None:
    loaded = _imported_after("import pilot, pilot.pilot_compute_service, pilot.dreamer")
    optional = {"qiskit_ibm_runtime", "qiskit_ionq", "pennylane", "braket", "boto3", "torch"}
    assert loaded.isdisjoint(optional), loaded & optional


def test_dreamer_sources_do_not_mention_pilot() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "dreamer"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import pilot" not in text and "from pilot" not in text, path


def test_import_contracts_hold() -> None:
    """The layers, no cycles (imports inside functions and under TYPE_CHECKING count),
    simulators and dreamer that import nothing of pilot's, and configuration that
    imports no adapter: pyproject.toml's [tool.importlinter] contracts."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=root, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "Contracts: 5 kept, 0 broken." in out.stdout, out.stdout[-2000:]
