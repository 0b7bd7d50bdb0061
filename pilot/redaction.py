"""Where credentials come from, and how they are kept out of everything else.

Credentials (IBM Quantum tokens, IonQ API keys, AWS keys, Ray's cluster token)
come from three places only:

* the environment: :data:`IBM_TOKEN_ENV` (``pilot.backends.ibm.TOKEN_ENV``),
  :data:`IONQ_KEY_ENV`,
  boto3's ``AWS_*`` variables, azure-identity's ``AZURE_CLIENT_SECRET`` and a
  managed identity's ``IDENTITY_HEADER``, Ray's ``RAY_AUTH_TOKEN``;
* the SDKs' own stores, read by the SDKs (``QiskitRuntimeService.save_account``,
  ``~/.aws/credentials``, ``~/.ray/auth_token``);
* a pilot description's ``quantum.ibmqx_token`` (alias ``token``) or
  ``quantum.ionq_api_key``, possibly
  from the user configuration file, which must then be readable by its owner
  only (:func:`check_private_file`).

They never appear in logs, reprs, errors, results or files other than those.
What can be enforced here is enforced: :func:`redact` replaces every known
secret value (:func:`known_secrets`) in a text, and :class:`RedactingFilter`
does so for log records.  :func:`install_log_redaction` (run when ``pilot``
is imported, in drivers and Ray workers alike) puts it in front of every
record of the ``pilot`` and ``dreamer`` loggers, at every level.  Files of
ours that could hold a secret are written with :func:`write_private` (0600).
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
from collections.abc import Iterable
from pathlib import Path

from pilot.errors import CredentialsError

logger = logging.getLogger(__name__)

#: Environment variables searched for an IBM Quantum token, in order.
IBM_TOKEN_ENV = ("IBM_QUANTUM_TOKEN", "IBMQX_TOKEN", "QISKIT_IBM_TOKEN")

#: Environment variables searched for an IonQ API key, in order (qiskit-ionq reads the
#: same three; ``IONQ_API_KEY`` is the documented one).
IONQ_KEY_ENV = ("IONQ_API_KEY", "IONQ_API_TOKEN", "QISKIT_IONQ_API_TOKEN")

#: Environment variables whose values are secrets.
SECRET_ENV = (
    *IBM_TOKEN_ENV,
    *IONQ_KEY_ENV,
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "IDENTITY_HEADER",
    "MSI_SECRET",
    "AZURE_QUANTUM_CONNECTION_STRING",
    "RAY_AUTH_TOKEN",
)

#: What a secret is replaced with.
MASK = "***"

#: Shorter values are not redacted: masking every "abc" in a log would garble it,
#: and no real token is that short (IBM's are 44 characters, AWS secret keys 40).
MIN_SECRET_LENGTH = 8

#: A list, not a set: threads of an actor may log (iterate) while another
#: remembers (appends), which a list allows and a set does not.
_remembered: list[str] = []


def remember(value: str | None) -> None:
    """Add a configured secret (a description's token) to those :func:`redact` masks."""
    if value and len(value) >= MIN_SECRET_LENGTH and value not in _remembered:
        _remembered.append(value)


def known_secrets() -> tuple[str, ...]:
    """Secret values set in :data:`SECRET_ENV` or :func:`remember`-ed, longest first."""
    values = {os.environ.get(name) for name in SECRET_ENV} | {*_remembered}
    return tuple(
        sorted((v for v in values if v and len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)
    )


def _mask(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact(text: str) -> str:
    """``text`` with every known secret value replaced by :data:`MASK`."""
    return _mask(text, known_secrets())


class RedactingFilter(logging.Filter):
    """Masks known secrets in a record's message (arguments included), traceback and stack.

    The record is changed in place, so every handler that sees it afterwards
    (the root's, pytest's, an application's) gets the masked text.  Add it to
    a handler to cover third-party loggers too (the ``qdreamer`` CLI does).
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = known_secrets()
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: the handler reports it
            return True
        masked = _mask(message, secrets)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            text = self._formatter.formatException(record.exc_info)
            if _mask(text, secrets) != text:
                record.exc_text = text  # formatters reuse exc_text when it is set
        if record.exc_text:
            record.exc_text = _mask(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = _mask(record.stack_info, secrets)
        return True


class _RedactingHandler(logging.Handler):
    """Emits nothing; its filter masks each record before parent loggers' handlers see it.

    A filter added to a logger only sees records logged at that very logger,
    not those of its children (``pilot.runtime.service``...), which go straight to the
    handlers up the hierarchy; a handler on the package logger sees them all,
    and before the root's handlers do.
    """

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RedactingFilter())

    def handle(self, record: logging.LogRecord) -> bool:
        return bool(self.filter(record))

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - never called
        pass


def install_log_redaction(names: Iterable[str] = ("pilot", "dreamer")) -> None:
    """Mask secrets in every record of these loggers and their children (idempotent)."""
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(h, _RedactingHandler) for h in target.handlers):
            target.addHandler(_RedactingHandler())


def check_private_file(path: Path, what: str) -> None:
    """Refuse ``path`` (which holds ``what``, a secret) if its group or others may read it."""
    mode = stat.S_IMODE(path.stat().st_mode)
    readers = [
        who for bit, who in ((stat.S_IRGRP, "its group"), (stat.S_IROTH, "others")) if mode & bit
    ]
    if readers:
        raise CredentialsError(
            f"{path} holds a secret ({what}) but its mode is {mode:04o}: "
            f"{' and '.join(readers)} can read it; make it private with: "
            f"chmod 600 {shlex.quote(str(path))}"
        )


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by its owner only (0600).

    An existing file is truncated and its mode tightened too.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(fd, 0o600)
        f.write(text)


__all__ = [
    "IBM_TOKEN_ENV",
    "IONQ_KEY_ENV",
    "MASK",
    "SECRET_ENV",
    "RedactingFilter",
    "check_private_file",
    "install_log_redaction",
    "known_secrets",
    "redact",
    "remember",
    "write_private",
]


def tighten_ray_token() -> None:
    """Make Ray's token file private (0600) if it is not.

    Ray 2.60 writes ``~/.ray/auth_token`` (or ``RAY_AUTH_TOKEN_PATH``) readable by
    every user of the machine; on a shared login node anyone could then use the
    cluster.  Ray reads it as its owner, so 0600 changes nothing else.
    """
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token").expanduser()
    try:
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(0o600)
            logger.warning("made Ray's token file %s private (it was %o)", path, info.st_mode)
    except OSError:
        return
