#!/usr/bin/env python
"""Screenshot Ray's dashboard (Actors page) with Qdreamer's pilots on it.

::

    python scripts/dashboard-screenshot.py [--out docs/img/dashboard-actors.png]

Starts a local Ray with its dashboard (127.0.0.1) through
``PilotComputeService``, creates two quantum pilots (Aer, and fake IBM devices
with calibration data) and a classical one, runs a few tasks on each, then
drives headless Chromium (Debian's ``chromium``) over the DevTools protocol:
Ray's token goes into the ``ray-authentication-token`` cookie, as the
dashboard's login does it (``POST /api/authenticate``), never into a URL, a
command line or a log.  It waits until the Actors page lists every
``pilot-<name>`` actor and writes the PNG.  Needs the ``dashboard`` extra
(``ray[default]``) and ``apt-get install chromium``; nothing leaves the
machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

logger = logging.getLogger("dashboard-screenshot")

WIDTH, HEIGHT = 1600, 1000
COOKIE = "ray-authentication-token"  # ray._private.authentication.authentication_constants
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
    "--remote-debugging-port=0",  # the port is written to DevToolsActivePort
)


def square(x: float) -> float:
    return x * x


def run_workload(pcs: Any) -> list[str]:
    """Pilots and tasks for the picture; returns the quantum pilots' actor names."""
    from pilot import QuantumTask
    from pilot.cli.demo import bell

    quantum = {
        "aer": {"executor": "qiskit_local"},
        "ibm-fakes": {"executor": "qiskit_fake", "backends": ["fake_manila", "fake_lagos"]},
    }
    for name, config in quantum.items():
        pcs.create_pilot(
            {"resource_type": "quantum", "name": name, "cores_per_node": 0.5, "quantum": config}
        )
    pcs.create_pilot({"resource_type": "classical", "name": "cpu", "cores_per_node": 0.5})
    pcs.initialize_dreamer(objective="fidelity")
    refs = [pcs.submit_quantum_task(QuantumTask(bell(), shots=200)) for _ in range(4)]
    refs += [
        pcs.submit_quantum_task(QuantumTask(bell(), shots=200, pilot="ibm-fakes", resource=dev))
        for dev in ("fake_manila", "fake_lagos")
    ]
    refs += [pcs.submit_task(square, float(i), pilot="cpu") for i in range(3)]
    pcs.get_results(refs)
    return [f"pilot-{name}" for name in quantum]


class DevTools:
    """The few DevTools protocol calls we need, over one WebSocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.last = 0

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        self.last += 1
        message: dict[str, Any] = {"id": self.last, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send_json(message)
        while True:
            reply = await self.ws.receive_json()
            if reply.get("id") == self.last:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                return reply.get("result", {})


async def screenshot(
    chromium: str, base: str, token: str, names: list[str], out: Path, timeout: float
) -> None:
    import aiohttp

    profile = tempfile.mkdtemp(prefix="qdreamer-chromium-")
    proc = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        active = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not active.exists() or len(active.read_text().split()) < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{chromium} did not start (exit {proc.poll()})")
            await asyncio.sleep(0.1)
        port, path = active.read_text().split()[:2]
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as ws,
        ):
            cdp = DevTools(ws)
            target = (await cdp.call("Target.createTarget", url="about:blank"))["targetId"]
            page = (await cdp.call("Target.attachToTarget", targetId=target, flatten=True))[
                "sessionId"
            ]
            await cdp.call(
                "Emulation.setDeviceMetricsOverride",
                page,
                width=WIDTH,
                height=HEIGHT,
                deviceScaleFactor=1,
                mobile=False,
            )
            await cdp.call("Network.enable", page)
            ok = await cdp.call(
                "Network.setCookie",
                page,
                name=COOKIE,
                value=token,
                url=base + "/",
                httpOnly=True,
                sameSite="Strict",
            )
            if not ok.get("success", True):
                raise RuntimeError("Chromium refused the dashboard's cookie")
            await cdp.call("Page.navigate", page, url=base + "/#/actors")
            check = " && ".join(f"document.body.innerText.includes({n!r})" for n in names)
            while True:
                shown = await cdp.call(
                    "Runtime.evaluate", page, expression=f"!!document.body && {check}"
                )
                if shown.get("result", {}).get("value") is True:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Actors page did not list {names} in {timeout:g} s")
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.5)  # let the table settle
            bottom = await cdp.call(
                "Runtime.evaluate",
                page,
                expression="Math.ceil(document.querySelector('table')"
                ".getBoundingClientRect().bottom)",
            )
            height = min(HEIGHT, int(bottom.get("result", {}).get("value") or HEIGHT) + 24)
            clip = {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}
            shot = await cdp.call("Page.captureScreenshot", page, format="png", clip=clip)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(base64.b64decode(shot["data"]))
            await cdp.call("Browser.close")
    finally:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/img/dashboard-actors.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the browser")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not Path(args.chromium).exists():
        parser.error(f"no Chromium at {args.chromium}: apt-get install chromium, or --chromium")

    import ray
    from ray._private.authentication.http_token_authentication import (
        get_auth_headers_if_auth_enabled,
    )

    from pilot import PilotComputeService

    os.environ.pop("RAY_ADDRESS", None)  # always a fresh local Ray, with its dashboard
    start = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="qdreamer-shot-") as work,
        PilotComputeService(
            working_directory=work,
            num_cpus=2,
            ray_init_kwargs={"include_dashboard": True, "log_to_driver": False},
        ) as pcs,
    ):
        names = run_workload(pcs)
        logger.info("pilots and tasks ready after %.1f s", time.monotonic() - start)
        base = "http://" + ray._private.worker.get_dashboard_url()
        bearer = get_auth_headers_if_auth_enabled({}).get("authorization", "")
        token = bearer.removeprefix("Bearer ")
        if not token:
            logger.error("Ray's token authentication is off; this script expects it on")
            return 1
        shot_start = time.monotonic()
        asyncio.run(screenshot(args.chromium, base, token, names, args.out, args.timeout))
        logger.info("browser and screenshot: %.1f s", time.monotonic() - shot_start)
    logger.info("wrote %s in %.1f s", args.out, time.monotonic() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
