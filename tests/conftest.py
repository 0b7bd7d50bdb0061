"""Shared fixtures: one real local Ray per test session, and the fake AWS endpoint.

The fake Braket/S3 service (``tests/fakes/braket_service.py``) is an HTTP
server on 127.0.0.1 reached by the real boto3 clients through the standard
``AWS_ENDPOINT_URL_*`` variables.  It starts before Ray so that Ray's worker
processes inherit its environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def fake_braket() -> Iterator[Any]:
    from tests.fakes.braket_service import start_fake_braket

    service = start_fake_braket()
    try:
        yield service
    finally:
        service.__exit__(None, None, None)


@pytest.fixture(scope="session")
def ray_session(fake_braket: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``ray.init(num_cpus=2)`` once per session (with the fake AWS endpoint in the env)."""
    import ray

    fake_braket.export_env()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("work")
