"""One signed-in Bluesky account: sign-in with the saved session, and the XRPC calls the bot
makes, each surviving rate limits, outages and expired logins. `bot.bluesky.publisher` builds
threads on it.

The Bluesky error policy (`Connection.call`; kinds from `bot.bluesky.failures`):
- 429 waits until `ratelimit-reset` (at most `max_rate_wait`, else PublishError);
- network errors and 5xx are retried with backoff (`max_attempts`, else PublishError), except a
  write, whose outcome is then unknown: MaybeWritten, and the caller asks the PDS what landed;
- a 400 refusing a record raises RecordInvalid with the server's message;
- an auth error refreshes the token or signs in again once, then AuthError. Wrong credentials
  raise one AuthError and the Connection never tries them again, so a daemon cannot lock the
  account out with a storm of createSession calls.
Messages name what was being done; tokens and passwords never appear in logs, errors or reprs.

Sessions: Bluesky rate-limits createSession, so the session is saved (a SessionKeeper) on sign-in
and on every refresh, and reused; createSession only when there is no usable saved session or
the PDS refuses both the access and the refresh token. No AppView calls.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from atproto_client import models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import BadRequestError, RateLimitExceededError, UnauthorizedError
from atproto_core.exceptions import AtProtocolError

from bot.bluesky.failures import (
    describe,
    kind,
    rate_wait,
    xrpc_error,
)
from bot.bluesky.lexicon import POST_TYPE
from bot.bluesky.session import PdsClient, SessionKeeper
from bot.errors import AuthError, MaybeWritten, PublishError, RecordInvalid, SwapConflict
from bot.log import event

if TYPE_CHECKING:
    from bot.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

_RESIGN_IN_INTERVAL = 300.0  # never two createSessions within this many seconds
PAGE = 100  # listRecords' largest page


class Connection:
    """A signed-in SDK client for one account, with converted errors and bounded retries.

    `sleep` and `clock` (epoch seconds) are injectable for tests; `requests` counts the XRPC
    calls made, by method name (`requests["com.atproto.repo.applyWrites"]`)."""

    def __init__(
        self,
        service: str,
        handle: str,
        app_password: str,
        sessions: SessionKeeper,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_rate_wait: float = 120.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.service = service.rstrip("/")
        self.handle = handle.lstrip("@")
        self._password = app_password
        self._sessions = sessions
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max(1, max_attempts)
        self._max_rate_wait = max_rate_wait
        self._max_backoff = max_backoff
        self.requests: Counter[str] = Counter()
        self._did: str | None = None
        self._session: Session | None = None  # the SDK's, as its session-change callback told
        self._refused = False  # the credentials were refused: never try them again
        self._last_create: float | None = None  # when a sign-in last succeeded
        self._sign_in_blocked_until = 0.0  # a rate limit on createSession: no call before
        self._client = PdsClient(
            self.service, clock=clock, timeout=timeout, on_request=self._count
        )
        self._client.on_session_change(self._session_changed)

    @classmethod
    def from_settings(
        cls, settings: Settings, sessions: SessionKeeper, **kwargs: Any
    ) -> Connection:
        """The connection the settings name (AuthError without a handle and app password)."""
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
        return f"Connection(service={self.service!r}, handle={self.handle!r})"

    def close(self) -> None:
        self._client.request.close()

    def now(self) -> float:
        """The (injectable) clock, in epoch seconds."""
        return self._clock()

    # -- sessions ------------------------------------------------------------------------

    def _count(self, request: httpx.Request) -> None:
        self.requests[request.url.path.rsplit("/", 1)[-1]] += 1

    def _session_changed(self, change: SessionEvent, session: Session) -> None:
        # The SDK's public callback tells us every session it holds (created, imported,
        # refreshed): the DID and the tokens are read from here, never from its private state.
        self._session = session
        if change not in (SessionEvent.CREATE, SessionEvent.REFRESH):
            return
        self._save(session, change)

    def _save(self, session: Session, change: SessionEvent) -> None:
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
            assert self._session is not None  # set by the import's session-change callback
            self._did = self._session.did
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
        self.call(
            what,
            lambda: self._client.login(self.handle, self._password, fetch_bsky_profile=False),
            signing_in=True,
        )
        self._last_create = now
        assert self._session is not None  # set by the sign-in's session-change callback
        self._did = self._session.did
        event(logger, "bluesky.signed_in", handle=self.handle, reused=False, reason=reason)

    def _reauthenticate(self) -> None:
        """The PDS refused our token: refresh it when the SDK has not just tried, else sign in."""
        session = self._session
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
                    self._refresh(session)
                    event(logger, "bluesky.token_refreshed", reason="refused")
                    return
                except (AtProtocolError, httpx.HTTPError) as exc:
                    if kind(exc) != "auth":
                        raise PublishError(
                            f"refreshing the Bluesky login: {describe(exc)}"
                        ) from exc
        self._create_session(reason="login_refused")

    def _refresh(self, session: Session) -> None:
        """Refresh the session through the SDK's public surface: the refreshSession call with
        the refresh token, then the new session imported as a session string (and saved: the
        refresh token rotates)."""
        fresh = self._client.com.atproto.server.refresh_session(
            headers={"Authorization": f"Bearer {session.refresh_jwt}"},
            ignore_session_check=True,  # not "refresh first": this call is the refresh
        )
        renewed = Session(handle=fresh.handle, did=fresh.did, access_jwt=fresh.access_jwt,
                          refresh_jwt=fresh.refresh_jwt, pds_endpoint=session.pds_endpoint)
        self._client.login(session_string=renewed.export(), fetch_bsky_profile=False)
        self._save(renewed, SessionEvent.REFRESH)

    @contextmanager
    def one_try(self) -> Iterator[None]:
        """Each call inside is tried once, without backoff: for a question that can wait for
        the next pass (is this issue on the account already, before holding it?)."""
        saved = self.max_attempts
        self.max_attempts = 1
        try:
            yield
        finally:
            self.max_attempts = saved

    # -- calls with retries ----------------------------------------------------------------

    def backoff(self, attempt: int, what: str, exc: BaseException) -> None:
        """Sleep before try `attempt + 1` (doubling, at most `max_backoff`), and say so."""
        delay = min(2.0 ** (attempt - 1), self._max_backoff)
        event(logger, "bluesky.retry", logging.WARNING, what=what, attempt=attempt,
              wait=delay, error=describe(exc))
        self._sleep(delay)

    def call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        ambiguous: bool = False,
        signing_in: bool = False,
    ) -> T:
        """Run one XRPC call, converting and retrying its errors (the module docstring's policy).

        ambiguous: a write; a transient failure raises MaybeWritten instead of retrying.
        signing_in: createSession; an auth error means the credentials are wrong."""
        attempt = 0
        reauthed = False
        while True:
            attempt += 1
            try:
                return fn()
            except (AtProtocolError, httpx.HTTPError) as exc:
                failed = kind(exc)
                if failed == "rate" and isinstance(exc, RateLimitExceededError):
                    wait = rate_wait(exc, attempt, self._clock())
                    if wait > self._max_rate_wait or attempt >= self.max_attempts:
                        if signing_in:
                            self._sign_in_blocked_until = self._clock() + wait
                        raise PublishError(
                            f"{what}: Bluesky's rate limit is reached for {wait:.0f} s more; "
                            "try again later"
                        ) from exc
                    event(logger, "bluesky.rate_limited", logging.WARNING, what=what,
                          wait=round(wait, 1))
                    self._sleep(wait)
                elif failed == "auth" and signing_in:
                    if isinstance(exc, UnauthorizedError | BadRequestError):
                        self._refused = True
                    event(logger, "bluesky.login_refused", logging.ERROR, handle=self.handle,
                          error=describe(exc))
                    raise AuthError(f"{self._refused_message()} ({describe(exc)})") from exc
                elif failed == "auth":
                    if reauthed:
                        raise AuthError(
                            f"{what}: Bluesky refused the login even after signing in again "
                            f"({describe(exc)})"
                        ) from exc
                    reauthed = True
                    self._reauthenticate()
                elif failed == "transient":
                    if ambiguous:
                        raise MaybeWritten(describe(exc)) from exc
                    if attempt >= self.max_attempts:
                        raise PublishError(
                            f"{what}: Bluesky did not answer after {attempt} tries "
                            f"({describe(exc)}); will try again later"
                        ) from exc
                    self.backoff(attempt, what, exc)
                elif failed == "invalid" and signing_in:
                    self._refused = True
                    raise AuthError(f"{self._refused_message()} ({describe(exc)})") from exc
                elif failed == "invalid":
                    raise RecordInvalid(f"{what}: Bluesky refused it: {describe(exc)}") from exc
                else:
                    raise PublishError(f"{what}: {describe(exc)}") from exc

    # -- the XRPC calls the bot makes, on its own repository ----------------------------------

    def get_record(
        self, rkey: str, what: str, collection: str = POST_TYPE
    ) -> dict[str, Any] | None:
        """The record at `rkey` of `collection` (a post by default) on our account
        ({uri, cid, value}), or None when there is none."""
        did = self.sign_in()
        params = models.ComAtprotoRepoGetRecord.Params(repo=did, collection=collection, rkey=rkey)

        def get() -> dict[str, Any] | None:
            try:
                response = self._client.invoke_query("com.atproto.repo.getRecord", params=params)
                return response.content
            except BadRequestError as exc:
                if xrpc_error(exc)[1] == "RecordNotFound":
                    return None
                raise

        return self.call(what, get)

    def list_records(self, cursor: str | None, what: str) -> dict[str, Any]:
        """A page (the newest first) of our account's posts: {records, cursor}."""
        did = self.sign_in()
        params = models.ComAtprotoRepoListRecords.Params(
            repo=did, collection=POST_TYPE, limit=PAGE, cursor=cursor
        )
        method = "com.atproto.repo.listRecords"
        return self.call(what, lambda: self._client.invoke_query(method, params=params).content)

    def upload_blob(self, data: bytes, mime: str, what: str) -> dict[str, Any]:
        """Upload an image; the blob to put in a record."""
        self.sign_in()
        response = self.call(
            what,
            lambda: self._client.invoke_procedure(
                "com.atproto.repo.uploadBlob", content=data, headers={"Content-Type": mime}
            ),
        )
        return response.content["blob"]

    def get_blob(self, cid: str, what: str) -> bytes | None:
        """A blob of our account by CID; None when the PDS has none."""
        did = self.sign_in()
        params = models.ComAtprotoSyncGetBlob.Params(did=did, cid=cid)

        def get() -> bytes | None:
            try:
                response = self._client.invoke_query("com.atproto.sync.getBlob", params=params)
            except BadRequestError as exc:
                _, name, message = xrpc_error(exc)  # PDSs differ: BlobNotFound or "Blob not found"
                if name.endswith("NotFound") or "not found" in message.lower():
                    return None
                raise
            return response.content if isinstance(response.content, bytes) else None

        return self.call(what, get)

    def apply_writes(self, creates: Sequence[dict[str, Any]], what: str) -> list[dict[str, Any]]:
        """Write `creates` (applyWrites#create dicts) in one atomic call; the PDS's result for
        each ({uri, cid}). Never retried here: MaybeWritten when the outcome is unknown."""
        did = self.sign_in()
        body = json.dumps({"repo": did, "writes": list(creates)}, ensure_ascii=False)
        try:
            response = self.call(
                what,
                lambda: self._client.invoke_procedure(
                    "com.atproto.repo.applyWrites",
                    content=body.encode("utf-8"),
                    headers={"Content-Type": "application/json"},
                ),
                ambiguous=True,
            )
        except ValueError as exc:  # a 200 whose body is not JSON: the write may well be done
            raise MaybeWritten(f"Bluesky's answer is not JSON ({exc})") from exc
        content = response.content
        results = content.get("results") if isinstance(content, dict) else None
        if not isinstance(results, list) or not all(
            isinstance(r, dict) and isinstance(r.get("uri"), str) and isinstance(r.get("cid"), str)
            for r in results
        ):
            raise MaybeWritten("Bluesky's answer is not applyWrites' answer (no results)")
        return list(results)

    def put_record(
        self,
        collection: str,
        rkey: str,
        record: dict[str, Any],
        swap: str | None,
        what: str,
    ) -> dict[str, Any]:
        """Write the record at `rkey` only if it is still the version `swap` names (its CID;
        None: only if there is none yet); SwapConflict when it changed meanwhile. Retried like a
        read: the swap makes a repeat that already landed a SwapConflict, never a double write."""
        did = self.sign_in()
        # swapRecord is sent even when None: null asks the PDS to create only, never replace.
        body = json.dumps(
            {"repo": did, "collection": collection, "rkey": rkey, "record": record,
             "swapRecord": swap},
            ensure_ascii=False,
        ).encode("utf-8")

        def put() -> dict[str, Any]:
            try:
                response = self._client.invoke_procedure(
                    "com.atproto.repo.putRecord",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
            except BadRequestError as exc:
                if xrpc_error(exc)[1] == "InvalidSwap":
                    raise SwapConflict(describe(exc)) from exc
                raise
            return dict(response.content)

        return self.call(what, put)
