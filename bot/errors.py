"""One error tree for the whole bot, and `one_line` for quoting another library's error in ours.

    BotError                    anything the bot reports as one clear line
    ├── ConfigError             a setting or the newsletter profile is wrong (exit 2)
    ├── FeedError               the feed cannot be fetched or parsed
    ├── IssueError              an issue cannot be read
    ├── ThreadError             an issue cannot be composed into posts
    ├── CardError               a link card cannot be built (callers fall back to the feed's data)
    ├── PublishError            Bluesky refused or failed a write
    │   ├── Unreachable         Bluesky's name does not resolve (DNS): said once per outage
    │   ├── AuthError           the credentials or the saved session are not accepted
    │   ├── RecordInvalid       the PDS says a record is invalid (400): retrying will not help
    │   ├── MaybeWritten        a write's outcome is unknown: ask the PDS before trying again
    │   └── SwapConflict        a record changed since it was read (InvalidSwap): read it again
    ├── StoreError              the database cannot be used
    │   ├── StoreOutage         it cannot be reached (down, refused, locked): nothing changed
    │   └── StoreConflict       another worker moved the issue meanwhile: its outcome, not ours
    └── Stopped                 a stop was asked while waiting; the next pass goes on from there

Third-party exceptions are converted only in the edge module that calls the library
(`raise FeedError(...) from exc`), and the message names the issue and what to do next.
"""

from __future__ import annotations


class BotError(Exception):
    """Something the bot reports as one line; `exit_code` is what the CLI exits with."""

    exit_code = 1


class ConfigError(BotError):
    """A setting or the newsletter profile is missing or wrong."""

    exit_code = 2


class FeedError(BotError):
    """The feed could not be fetched or parsed."""


class IssueError(BotError):
    """An issue could not be read."""


class ThreadError(BotError):
    """An issue could not be composed into a thread."""


class CardError(BotError):
    """A link card could not be fetched or built."""


class PublishError(BotError):
    """Bluesky refused or failed a write."""

    # True when the failure was already said, once for the whole outage, where it was noticed:
    # the callers' lines about it (an issue deferred to the next pass) are then debug only.
    said = False


class Unreachable(PublishError):
    """Bluesky's host cannot be reached: its name does not resolve (DNS). The connection says
    so once when the outage starts and once when it ends, and keeps retrying with backoff."""

    said = True


class AuthError(PublishError):
    """The handle, app password or saved session were not accepted."""


class RecordInvalid(PublishError):
    """The PDS says a record is invalid; retrying the same record will not help."""


class MaybeWritten(PublishError):
    """A write failed in a way that leaves its outcome unknown; ask the PDS before retrying."""


class SwapConflict(PublishError):
    """A record changed since we read it (the PDS answered InvalidSwap): read it again."""


class StoreError(BotError):
    """The database could not be used."""


class StoreOutage(StoreError):
    """The database cannot be reached (down, refusing connections, locked): nothing was
    changed, and the same step can be tried again later."""


class StoreConflict(StoreError):
    """The issue is not where this worker left it: another worker (or the editor) moved it
    meanwhile. Not a failure of this worker: the other one's outcome stands."""


class Stopped(BotError):
    """A stop was requested while waiting (a backoff); the pass ends, the next one resumes."""


def one_line(exc: object) -> str:
    """An exception's message as one line, for our own error messages and log events: its first
    line with runs of whitespace made one space, else its class name. A database driver's error
    wrapped by SQLAlchemy (`orig`) speaks for itself: the wrapper adds the SQL and its values."""
    orig = getattr(exc, "orig", None) or exc
    first = next((line for line in str(orig or "").splitlines() if line.strip()), "")
    return " ".join(first.split()) or type(orig).__name__
