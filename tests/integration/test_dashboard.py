"""Our pilots and tasks as Ray's dashboard shows them, through its HTTP API.

The session's Ray starts its dashboard (on 127.0.0.1) because this module
uses the ``ray_dashboard`` fixture (see ``tests/conftest.py``).  Ray 2.60
authenticates every API call with the cluster token; the token goes in an
``Authorization: Bearer`` header, as Ray's own clients send it
(``ray._private.authentication.http_token_authentication``), and a request
without it must be refused.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest

from pilot import PilotComputeService, QuantumTask
from tests.helpers import bell_qiskit

#: Seconds to wait for the dashboard to answer and for task events to reach it.
DEADLINE = 90.0
#: urllib without the environment's proxies (the dashboard is on 127.0.0.1).
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="session")
def ray_dashboard(ray_session: None) -> str:
    """The dashboard's base URL, once it answers."""
    import ray

    address = ray._private.worker.get_dashboard_url()
    if not address:
        pytest.fail("Ray started without its dashboard: is ray[default] (extra 'dashboard') in?")
    url = f"http://{address}"
    assert urllib.parse.urlsplit(url).hostname == "127.0.0.1", url  # never on the network
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            status, _ = get(url, "/api/v0/nodes?limit=1", auth=True)
        except OSError:
            status = 0
        if status == 200:
            return url
        if time.monotonic() > deadline:
            pytest.fail(f"the dashboard at {url} did not answer within {DEADLINE:g} s ({status})")
        time.sleep(1.0)


def auth_headers() -> dict[str, str]:
    """Ray's token as Ray's own HTTP clients send it."""
    from ray._private.authentication.http_token_authentication import (
        get_auth_headers_if_auth_enabled,
    )

    headers = get_auth_headers_if_auth_enabled({})
    assert headers, "Ray's token authentication is off (RAY_AUTH_MODE?): it must stay on"
    return dict(headers)


def get(base: str, path: str, *, auth: bool) -> tuple[int, Any]:
    """``GET base+path``: the status and the parsed JSON body (or text)."""
    request = urllib.request.Request(base + path, headers=auth_headers() if auth else {})
    try:
        with LOOPBACK.open(request, timeout=30) as response:
            body = response.read().decode()
            return response.status, json.loads(body)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def state(base: str, resource: str, **filters: str) -> list[dict[str, Any]]:
    """Rows of the state API (``/api/v0/<resource>``), filtered by equality."""
    params: list[tuple[str, str]] = [("limit", "10000"), ("detail", "true")]
    for key, value in filters.items():
        params += [("filter_keys", key), ("filter_predicates", "="), ("filter_values", value)]
    status, body = get(base, f"/api/v0/{resource}?{urllib.parse.urlencode(params)}", auth=True)
    assert status == 200, (status, body)
    assert body["result"] is True, body
    rows: list[dict[str, Any]] = body["data"]["result"]["result"]
    return rows


def double(x: int) -> int:
    return 2 * x


#: The two actor methods a quantum task arrives by.
METHODS = {"PilotActor.run", "PilotActor.run_window"}


@pytest.mark.slow
def test_pilots_and_tasks_are_listed_under_their_names(ray_dashboard: str, workdir: Any) -> None:
    suffix = uuid.uuid4().hex[:6]
    qname, cname = f"dsim{suffix}", f"dcpu{suffix}"
    with PilotComputeService(working_directory=workdir) as pcs:
        pcs.create_pilot(
            {
                "resource_type": "quantum",
                "name": qname,
                "quantum": {"executor": "qiskit_local"},
            }
        )
        pcs.create_pilot({"resource_type": "classical", "name": cname, "cores_per_node": 0.25})
        tasks = [QuantumTask(bell_qiskit(), shots=50, pilot=qname) for _ in range(3)]
        refs = [pcs.submit_quantum_task(task) for task in tasks]
        results = pcs.get_results(refs)
        assert all(sum(r.counts.values()) == 50 for r in results)
        # The first goes straight to the actor (PilotActor.run); those that follow at
        # once share one call (a coalesced window, named after its first task; see
        # pilot/runtime/coalesce.py). On a slow machine a window may close holding one task, so
        # each task is then one call, by either method.
        coalesced = sum(r.metadata.get("batch_size", 1) > 1 for r in results)
        calls = 3 - coalesced + (1 if coalesced else 0)
        assert pcs.get_results(pcs.submit_task(double, 21, pilot=cname)) == 42

        actors = state(ray_dashboard, "actors", name=f"pilot-{qname}")
        assert [(a["class_name"], a["state"]) for a in actors] == [("PilotActor", "ALIVE")]
        groups = state(ray_dashboard, "placement_groups", name=f"pilot-{cname}")
        assert [g["state"] for g in groups] == ["CREATED"]

        want = {"quantum:bell@aer_simulator", f"double@{cname}"}
        deadline = time.monotonic() + DEADLINE
        while True:  # task events reach the dashboard about once a second
            tasks = state(ray_dashboard, "tasks", state="FINISHED")
            names = {t["name"] for t in tasks}
            quantum = [t for t in tasks if t["name"] == "quantum:bell@aer_simulator"]
            mine = [t for t in quantum if t.get("actor_id") == actors[0]["actor_id"]]
            kinds = sorted(t["func_or_class_name"] for t in mine)
            listed = len(kinds) == calls and kinds[0] == "PilotActor.run"  # sorted
            if want <= names and listed and set(kinds) <= METHODS:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"not listed within {DEADLINE:g} s: {want - names}, {kinds}")
            time.sleep(1.0)


def test_the_api_refuses_requests_without_the_token(ray_dashboard: str) -> None:
    status, body = get(ray_dashboard, "/api/v0/actors?limit=1", auth=False)
    assert status == 401 and "Missing authentication token" in body
    request = urllib.request.Request(
        ray_dashboard + "/api/v0/actors?limit=1", headers={"Authorization": "Bearer wrong"}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        LOOPBACK.open(request, timeout=30)
    assert info.value.code == 403
