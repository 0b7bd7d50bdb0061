"""``examples/hybrid_qml.py`` trains its hybrid classifier to >= 90 % in under 3 minutes.

The example runs in this process: its service joins the session's Ray
(2 CPUs), as a driver on a Ray cluster would, and leaves it running.
"""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hybrid_qml", ROOT / "examples" / "hybrid_qml.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_hybrid_classifier_reaches_90_percent(
    ray_session: None, capsys: pytest.CaptureFixture[str]
) -> None:
    import ray

    example = load_example()
    started = time.perf_counter()
    accuracy = example.main([])
    elapsed = time.perf_counter() - started

    assert accuracy >= 0.9
    assert elapsed < 180, f"took {elapsed:.0f} s"
    out = capsys.readouterr().out
    losses = [float(m) for m in re.findall(r"epoch +\d+ +loss (\d+\.\d+)", out)]
    assert len(losses) == 20
    assert losses[-1] < losses[0] / 2
    assert re.search(r"1300 circuits on 2 pilots", out)
    assert re.search(r"training accuracy 0\.9\d|training accuracy 1\.00", out)
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2


def test_without_torch_the_example_says_what_to_install() -> None:
    import subprocess
    import sys

    hide_torch = (
        "import runpy, sys; sys.modules['torch'] = None; "
        "runpy.run_path('examples/hybrid_qml.py', run_name='__main__')"
    )
    out = subprocess.run(
        [sys.executable, "-c", hide_torch],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'hybrid_qml.py needs torch: pip install torch==2.13.0 && pip install -e ".[torch]"'
    )
