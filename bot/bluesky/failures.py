"""What a failed XRPC call was: its kind, a one-line description, and how long a rate limit asks
us to wait. `bot.bluesky.connection` decides what to do with each kind (its docstring is the
error policy). Nothing here reads or prints a header or a token.
"""

from __future__ import annotations

import email.utils
import socket
from typing import Any, Literal

import httpx
from atproto_client.exceptions import (
    BadRequestError,
    LoginRequiredError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError

Kind = Literal["rate", "auth", "transient", "invalid", "fatal"]

# Errors the PDS answers for a missing, expired or revoked token (400 or 401).
_AUTH_ERRORS = frozenset(
    {"ExpiredToken", "InvalidToken", "AuthRequired", "AuthenticationRequired", "AuthMissing"}
)


def xrpc_error(exc: BaseException) -> tuple[int | None, str, str]:
    """(HTTP status, XRPC error name, message) of an SDK error, without any header or token."""
    response = getattr(exc, "response", None)
    if response is None:
        cause = exc.__cause__ or exc
        return None, type(cause).__name__, str(cause) or type(cause).__name__
    content = response.content
    if isinstance(content, XrpcError):
        return response.status_code, content.error or "", content.message or ""
    return response.status_code, "", ""


def describe(exc: BaseException) -> str:
    """`400 InvalidRequest: the message`, for an error message or a log line."""
    status, name, message = xrpc_error(exc)
    parts = [str(status) if status else "", name, message]
    text = " ".join(p for p in parts[:2] if p)
    return f"{text}: {message}" if message and message != name else text or "no answer"


def kind(exc: BaseException) -> Kind:
    """rate | auth | transient | invalid | fatal (see bot.bluesky.connection for each)."""
    if isinstance(exc, RateLimitExceededError):
        return "rate"
    if isinstance(exc, LoginRequiredError | UnauthorizedError):
        return "auth"
    status, name, _ = xrpc_error(exc)
    if isinstance(exc, BadRequestError):
        return "auth" if name in _AUTH_ERRORS else "invalid"
    if isinstance(exc, httpx.HTTPError):  # the SDK lets some transport errors through as-is
        return "transient"
    if isinstance(exc, NetworkError):  # transport failures, timeouts, 409, 413, 502
        return "invalid" if status == 413 else "transient"
    if isinstance(exc, RequestErrorBase) and status is not None and status >= 500:
        return "transient"
    return "fatal"


def unresolved(exc: BaseException) -> bool:
    """The call failed because the service's name does not resolve (DNS down, EAI_AGAIN or
    NXDOMAIN): a socket.gaierror somewhere in the chain of causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, socket.gaierror):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _http_date(value: Any) -> float | None:
    """Epoch seconds of an HTTP Date header, None when there is none or it is unreadable."""
    try:
        return email.utils.parsedate_to_datetime(str(value)).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def rate_wait(exc: RateLimitExceededError, attempt: int, now: float) -> float:
    """Seconds until the rate limit resets, by the answer's `ratelimit-reset`; `now` is the local
    clock, used only when the answer has no Date."""
    headers: Any = exc.response.headers if exc.response else {}
    reset: Any = headers.get("ratelimit-reset")
    # The reset is the server's epoch time: measured against the answer's Date, a skewed
    # clock here neither hammers a rate-limited PDS nor waits far too long.
    server_now = _http_date(headers.get("date")) or now
    try:
        return max(float(reset) - server_now, 0.0) + 1.0
    except (TypeError, ValueError):
        retry_after = exc.retry_after
        return retry_after if retry_after is not None else min(2.0**attempt, 60.0)
