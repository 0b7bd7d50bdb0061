"""What a provider's error means: try the same call again, or try another resource.

One table of provider error codes (Amazon Braket / AWS, IBM Quantum, Azure Quantum) and HTTP
statuses serves both questions.  A *transient* failure (a throttled or timed-out
call, a 5xx answer) is retried in place (:func:`pilot.backends.jobs.retrying`);
an *unavailable* resource (the transient failures, once retries are spent, and a
device reported offline or retired) sends the task to its next-ranked fallback.
Errors in the task itself (a bad circuit, a validation error) are neither.
"""

from __future__ import annotations

from typing import Any

from pilot.errors import BackendUnavailableError

#: Provider error codes of a transient failure: the same call may succeed if repeated.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalServiceException",
        "InternalServerException",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
        "SlowDown",
        # Azure's error.code of throttled and failing calls.
        "TooManyRequests",
        "ServerBusy",
        "InternalServerError",
    }
)
#: Provider error codes that mean "not now", not "never": the transient ones, and a
#: device that is offline or retired (no retry brings it back; another resource may).
UNAVAILABLE_CODES = TRANSIENT_CODES | {"DeviceOfflineException", "DeviceRetiredException"}
#: HTTP statuses of a transient failure: timeout, too many requests, server errors.
UNAVAILABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Network failures of botocore and requests that do not subclass ConnectionError.
_NETWORK_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        # azure-core (Azure Quantum): no answer, or the connection broke mid-answer.
        "ServiceRequestError",
        "ServiceResponseError",
        "ServiceRequestTimeoutError",
        "ServiceResponseTimeoutError",
    }
)


def _answer(exc: BaseException) -> tuple[str | None, Any, str]:
    """The provider's error code, HTTP status and message in ``exc`` (botocore's
    ``ClientError.response``, azure-core's ``HttpResponseError.error``, or a
    ``status_code`` on the error or its response)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        error = response.get("Error") or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return error.get("Code"), status, str(error.get("Message", ""))
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    if type(exc).__module__.startswith("azure."):  # HttpResponseError: {"error": {code, message}}
        odata = getattr(exc, "error", None)
        code = getattr(odata, "code", None)
        return (str(code) if code else None), status, str(getattr(odata, "message", "") or "")
    return None, status, ""


def is_transient(exc: BaseException) -> bool:
    """Is ``exc`` a failure worth retrying the same call for?

    Connection resets, timeouts, HTTP 408/429/5xx and the provider codes in
    :data:`TRANSIENT_CODES`; not a device reported offline or retired (those
    fail over at once, see :func:`is_unavailable`), nor errors in the task.
    """
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    code, status, _ = _answer(exc)
    if isinstance(getattr(exc, "response", None), dict):  # the provider answered
        return code in TRANSIENT_CODES or status in UNAVAILABLE_STATUS
    return status in UNAVAILABLE_STATUS or type(exc).__name__ in _NETWORK_ERRORS


def is_unavailable(exc: BaseException) -> bool:
    """Does ``exc`` say the resource is unavailable now (so another may run the task)?

    True for :class:`~pilot.errors.BackendUnavailableError`, connection errors
    and timeouts, HTTP 408/429/5xx responses, and provider codes such as
    Braket's ``ThrottlingException`` or a device reported offline.  False for
    errors in the task itself (a bad circuit, a validation error).
    """
    if isinstance(exc, (BackendUnavailableError, ConnectionError, TimeoutError)):
        return True
    code, status, message = _answer(exc)
    if code in UNAVAILABLE_CODES or status in UNAVAILABLE_STATUS:
        return True
    if isinstance(getattr(exc, "response", None), dict):  # a provider answer of another kind
        return "offline" in message.lower()
    return type(exc).__name__ in _NETWORK_ERRORS
