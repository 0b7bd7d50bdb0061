"""Joining an existing Ray cluster: fail fast and say how to fix it.

``ray.init(address=...)`` retries an unreachable address for minutes, and a
driver without the cluster's token gets a bare ``ConnectionError`` after
about 20 s.  The service and the command line check first and translate.
"""

from __future__ import annotations

import logging
import socket

from ray._private.utils import read_ray_address

from pilot.errors import ConfigError, CredentialsError

logger = logging.getLogger(__name__)


def running_local_cluster(temp_dir: str | None = None) -> str | None:
    """The address of the Ray cluster ``ray start`` last started on this machine, if it
    still answers: the one ``ray.init()`` without an address would join.

    Ray keeps it in ``<temp dir>/ray_current_cluster`` (``temp_dir``: Ray's, by
    default ``/tmp/ray``); a file left by a cluster
    that stopped without ``ray stop`` names an address nothing listens on, and
    is ignored (a new local instance starts instead).
    """
    try:
        address = read_ray_address(temp_dir)
    except Exception:  # a private helper: without it, assume none
        logger.debug("cannot read Ray's current-cluster file", exc_info=True)
        return None
    if not address:
        return None
    try:
        check_reachable(address, timeout=2.0)
    except ConfigError:
        logger.info("Ray's current-cluster file names %s, where nothing answers; ignored", address)
        return None
    return address


def check_reachable(address: str, timeout: float = 5.0, key: str = "ray_address") -> None:
    """Raise ``ConfigError`` at once when nothing listens at a ``host:port`` Ray address."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local", or no port: let Ray resolve it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); check the "
            "address (`ray status` on the head node shows it), or start one with "
            "`ray start --head`",
            key=key,
        ) from None


def join_error(address: str, exc: BaseException) -> BaseException:
    """``ray.init``'s error, or a ``CredentialsError`` saying how to authenticate.

    Ray keeps the ``AuthenticationError`` only as text inside the chained
    exceptions, so the text is what is matched.
    """
    text, seen = "", set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text += f"{type(cur).__name__}: {cur}\n"
        cur = cur.__cause__ or cur.__context__
    if "AuthenticationError" not in text and "InvalidAuthToken" not in text:
        return exc
    return CredentialsError(
        f"the Ray cluster at {address} refused this driver's token: set RAY_AUTH_MODE=token "
        "and give the cluster's token in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or "
        "~/.ray/auth_token (`ray get-auth-token` on the head node prints it)"
    )
