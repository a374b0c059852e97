"""Signing in to Bluesky and making XRPC calls that survive rate limits, outages and expired
logins. `Connection` is the base of `bot.bluesky.publisher`; see that module for the rules.

Error policy of `Connection._call`: 429 waits until `ratelimit-reset` (at most `max_rate_wait`,
else PublishError); network errors and 5xx are retried with backoff (`max_attempts`), except for a
write, whose outcome is then unknown (`MaybeWritten`: the caller asks the PDS what landed); a 400
refusing a record raises RecordInvalid with the server's message; an auth error refreshes or signs
in again once, then AuthError. Wrong credentials raise one AuthError and the Connection never
tries them again, so a daemon cannot lock the account out with a storm of createSession calls.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import (
    BadRequestError,
    LoginRequiredError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError
from atproto_core.exceptions import AtProtocolError

from bot.bluesky.session import PdsClient, SessionStore
from bot.errors import AuthError, PublishError, RecordInvalid
from bot.log import event

logger = logging.getLogger("bot.bluesky.publisher")
T = TypeVar("T")

# Errors the PDS answers for a missing, expired or revoked token (400 or 401).
_AUTH_ERRORS = frozenset(
    {"ExpiredToken", "InvalidToken", "AuthRequired", "AuthenticationRequired", "AuthMissing"}
)
_RESIGN_IN_INTERVAL = 300.0  # never two createSessions within this many seconds

class MaybeWritten(Exception):
    """A write failed in a way that leaves its outcome unknown; ask the PDS before retrying."""


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


def _http_date(value: Any) -> float | None:
    """Epoch seconds of an HTTP Date header, None when there is none or it is unreadable."""
    try:
        return email.utils.parsedate_to_datetime(str(value)).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def describe(exc: BaseException) -> str:
    status, name, message = xrpc_error(exc)
    parts = [str(status) if status else "", name, message]
    text = " ".join(p for p in parts[:2] if p)
    return f"{text}: {message}" if message and message != name else text or "no answer"


def _kind(exc: BaseException) -> str:
    """rate | auth | transient | invalid | fatal."""
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


class Connection:
    """A signed-in SDK client for one account, with converted errors and bounded retries.

    `sleep` and `clock` (epoch seconds) are injectable for tests; `requests` counts the XRPC
    calls made, by method name (`requests["com.atproto.repo.applyWrites"]`)."""

    def __init__(
        self,
        service: str,
        handle: str,
        app_password: str,
        sessions: SessionStore,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_rate_wait: float = 120.0,
        max_backoff: float = 30.0,
        scan_pages: int = 5,
    ) -> None:
        self.service = service.rstrip("/")
        self.handle = handle.lstrip("@")
        self._password = app_password
        self._sessions = sessions
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max(1, max_attempts)
        self._max_rate_wait = max_rate_wait
        self._max_backoff = max_backoff
        self._scan_pages = max(1, scan_pages)
        self.requests: Counter[str] = Counter()
        self._did: str | None = None
        self._refused = False  # the credentials were refused: never try them again
        self._last_create: float | None = None  # when a sign-in last succeeded
        self._sign_in_blocked_until = 0.0  # a rate limit on createSession: no call before
        self._client = PdsClient(
            self.service, clock=clock, timeout=timeout, on_request=self._count
        )
        self._client.on_session_change(self._session_changed)

    @classmethod
    def from_settings(cls, settings: Any, sessions: SessionStore, **kwargs: Any) -> Any:
        """A Publisher for `bot.settings.Settings` (which must have a handle and app password)."""
        if not settings.bsky_handle or not settings.bsky_app_password:
            raise AuthError("BSKY_HANDLE and BSKY_APP_PASSWORD are needed to post")
        return cls(
            settings.bsky_service,
            settings.bsky_handle,
            settings.bsky_app_password,
            sessions,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"Publisher(service={self.service!r}, handle={self.handle!r})"

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.request.close()

    @property
    def did(self) -> str | None:
        """The account's DID once signed in."""
        return self._did

    # -- sessions ------------------------------------------------------------------------

    def _count(self, request: httpx.Request) -> None:
        self.requests[request.url.path.rsplit("/", 1)[-1]] += 1

    def _session_changed(self, change: SessionEvent, session: Session) -> None:
        if change not in (SessionEvent.CREATE, SessionEvent.REFRESH):
            return
        try:
            self._sessions.save(session.export())
        except Exception as exc:  # a session we cannot save costs a sign-in next run, no more
            event(logger, "bluesky.session_not_saved", logging.WARNING, error=type(exc).__name__)
            return
        event(logger, "bluesky.session_saved", change=change.value)

    def _usable_saved(self) -> str | None:
        saved = self._sessions.load()
        if not saved:
            return None
        try:
            session = Session.decode(saved)
            refresh_exp = session.refresh_jwt_payload.exp
        except Exception:
            event(logger, "bluesky.saved_login_discarded", reason="unreadable")
            return None
        if self.handle.lower() not in (session.handle.lower(), session.did.lower()):
            event(logger, "bluesky.saved_login_discarded", reason="other_account")
            return None
        if refresh_exp is not None and refresh_exp <= self._clock() + 60:
            event(logger, "bluesky.saved_login_discarded", reason="expired")
            return None
        return saved

    def sign_in(self) -> str:
        """Make sure there is a session (saved one first); returns the account's DID."""
        if self._did is not None:
            return self._did
        if self._refused:
            raise AuthError(self._refused_message())
        saved = self._usable_saved()
        if saved is not None:
            self._client.login(session_string=saved, fetch_bsky_profile=False)  # no request
            assert self._client._session is not None
            self._did = self._client._session.did
            event(logger, "bluesky.signed_in", handle=self.handle, reused=True)
            return self._did
        self._create_session(reason="no_saved_login")
        assert self._did is not None
        return self._did

    def _refused_message(self) -> str:
        return (
            f"Bluesky did not accept the handle {self.handle} with this app password; "
            "check BSKY_HANDLE and BSKY_APP_PASSWORD (an app password, not the account password)"
        )

    def _create_session(self, reason: str) -> None:
        if self._refused:
            raise AuthError(self._refused_message())
        now = self._clock()
        what = f"signing in as {self.handle}"
        if now < self._sign_in_blocked_until:  # asking again would only prolong the lock-out
            raise PublishError(
                f"{what}: Bluesky's rate limit is reached for "
                f"{self._sign_in_blocked_until - now:.0f} s more; try again later"
            )
        if self._last_create is not None and now - self._last_create < _RESIGN_IN_INTERVAL:
            raise AuthError(
                f"Bluesky refused the session it had just given {self.handle}; not signing in "
                "again so soon (createSession is rate-limited)"
            )
        self._call(
            what,
            lambda: self._client.login(self.handle, self._password, fetch_bsky_profile=False),
            signing_in=True,
        )
        self._last_create = now
        assert self._client._session is not None
        self._did = self._client._session.did
        event(logger, "bluesky.signed_in", handle=self.handle, reused=False, reason=reason)

    def _reauthenticate(self) -> None:
        """The PDS refused our token: refresh it when the SDK has not just tried, else sign in."""
        session = self._client._session
        if session is not None:
            try:
                now = self._clock()
                refresh_ok = (session.refresh_jwt_payload.exp or 0) > now + 60
                # Within 15 minutes of expiry the SDK refreshes before each call by itself:
                # then the refresh is what failed and trying it again is pointless.
                access_fresh = (session.access_jwt_payload.exp or 0) > now + 15 * 60
            except Exception:
                refresh_ok = access_fresh = False
            if refresh_ok and access_fresh:
                try:
                    self._client._refresh_and_set_session()
                    event(logger, "bluesky.token_refreshed", reason="refused")
                    return
                except (AtProtocolError, httpx.HTTPError) as exc:
                    if _kind(exc) != "auth":
                        raise PublishError(
                            f"refreshing the Bluesky login: {describe(exc)}"
                        ) from exc
        self._create_session(reason="login_refused")

    # -- calls with retries ----------------------------------------------------------------

    def _backoff(self, attempt: int, what: str, exc: BaseException) -> None:
        delay = min(2.0 ** (attempt - 1), self._max_backoff)
        event(logger, "bluesky.retry", logging.WARNING, what=what, attempt=attempt,
              wait=delay, error=describe(exc))
        self._sleep(delay)

    def _rate_wait(self, exc: RateLimitExceededError, attempt: int) -> float:
        headers: Any = exc.response.headers if exc.response else {}
        reset: Any = headers.get("ratelimit-reset")
        # The reset is the server's epoch time: measured against the answer's Date, a skewed
        # clock here neither hammers a rate-limited PDS nor waits far too long.
        now = _http_date(headers.get("date")) or self._clock()
        try:
            return max(float(reset) - now, 0.0) + 1.0
        except (TypeError, ValueError):
            retry_after = exc.retry_after
            return retry_after if retry_after is not None else min(2.0**attempt, 60.0)

    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        ambiguous: bool = False,
        signing_in: bool = False,
    ) -> T:
        """Run one XRPC call, converting and retrying its errors (see the module docstring).

        ambiguous: a write; a transient failure raises MaybeWritten instead of retrying.
        signing_in: createSession; an auth error means the credentials are wrong."""
        attempt = 0
        reauthed = False
        while True:
            attempt += 1
            try:
                return fn()
            except (AtProtocolError, httpx.HTTPError) as exc:
                kind = _kind(exc)
                if kind == "rate" and isinstance(exc, RateLimitExceededError):
                    wait = self._rate_wait(exc, attempt)
                    if wait > self._max_rate_wait or attempt >= self._max_attempts:
                        if signing_in:
                            self._sign_in_blocked_until = self._clock() + wait
                        raise PublishError(
                            f"{what}: Bluesky's rate limit is reached for {wait:.0f} s more; "
                            "try again later"
                        ) from exc
                    event(logger, "bluesky.rate_limited", logging.WARNING, what=what,
                          wait=round(wait, 1))
                    self._sleep(wait)
                elif kind == "auth" and signing_in:
                    if isinstance(exc, UnauthorizedError | BadRequestError):
                        self._refused = True
                    event(logger, "bluesky.login_refused", logging.ERROR, handle=self.handle,
                          error=describe(exc))
                    raise AuthError(f"{self._refused_message()} ({describe(exc)})") from exc
                elif kind == "auth":
                    if reauthed:
                        raise AuthError(
                            f"{what}: Bluesky refused the login even after signing in again "
                            f"({describe(exc)})"
                        ) from exc
                    reauthed = True
                    self._reauthenticate()
                elif kind == "transient":
                    if ambiguous:
                        raise MaybeWritten(describe(exc)) from exc
                    if attempt >= self._max_attempts:
                        raise PublishError(
                            f"{what}: Bluesky did not answer after {attempt} tries "
                            f"({describe(exc)}); will try again later"
                        ) from exc
                    self._backoff(attempt, what, exc)
                elif kind == "invalid" and signing_in:
                    self._refused = True
                    raise AuthError(f"{self._refused_message()} ({describe(exc)})") from exc
                elif kind == "invalid":
                    raise RecordInvalid(f"{what}: Bluesky refused it: {describe(exc)}") from exc
                else:
                    raise PublishError(f"{what}: {describe(exc)}") from exc
