"""Settings and the newsletter profile: defaults, and one clear line for each wrong value."""

from __future__ import annotations

import pytest

from bot.core.profile import load_profile, parse_profile
from bot.errors import ConfigError
from bot.settings import DEFAULT_FEED_URL, load_settings


def test_defaults_without_credentials_are_a_dry_run():
    """With nothing set, the contract's defaults apply and the bot is a dry run."""
    s = load_settings(env={})
    assert s.feed_url == DEFAULT_FEED_URL
    assert s.bsky_service == "https://bsky.social"
    assert s.poll_interval == 300
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("data/bot.db")
    assert s.dry_run


def test_password_never_in_repr():
    """The app password never shows in a printed Settings."""
    s = load_settings(env={"BSKY_HANDLE": "me.test", "BSKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"})
    assert not s.dry_run
    assert "abcd-efgh" not in repr(s)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"POLL_INTERVAL": "soon"}, "POLL_INTERVAL"),
        ({"POLL_INTERVAL": "1"}, "POLL_INTERVAL"),
        ({"BSKY_SERVICE": "bsky.social"}, "BSKY_SERVICE"),
        ({"BSKY_HANDLE": "me.test"}, "BSKY_APP_PASSWORD"),
        ({"BSKY_APP_PASSWORD": "x"}, "BSKY_HANDLE"),
        ({"BOT_CONFIG": "/nonexistent/profile.toml"}, "BOT_CONFIG"),
        ({"DATABASE_URL": "data/bot.db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://u:pw@127.0.0.1/db"}, "DATABASE_URL"),
        ({"FEED_URL": "ftp://127.0.0.1/feed"}, "FEED_URL"),
    ],
)
def test_a_wrong_setting_is_named(env, named):
    """A wrong or missing setting stops start-up with one line that names it."""
    with pytest.raises(ConfigError) as err:
        load_settings(env=env)
    assert str(err.value).startswith(named)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "url", ["mysql://bwr:s3cret-pw@127.0.0.1/db", "bwr:s3cret-pw@127.0.0.1/db"]
)
def test_a_wrong_database_url_never_shows_its_password(url):
    """The error about DATABASE_URL names it without printing the password inside it."""
    with pytest.raises(ConfigError) as exc:
        load_settings(env={"DATABASE_URL": url})
    assert str(exc.value).startswith("DATABASE_URL: ")
    assert "s3cret" not in str(exc.value)


@pytest.mark.parametrize(
    ("env", "attr", "value"),
    [
        (
            {"DATABASE_URL": "postgres://u:p@127.0.0.1/db"},
            "database_url",
            "postgres://u:p@127.0.0.1/db",
        ),
        (
            {"DATABASE_URL": "postgresql+psycopg://u@h/db"},
            "database_url",
            "postgresql+psycopg://u@h/db",
        ),
        ({"FEED_URL": "tests/fixtures/feed.xml"}, "feed_url", "tests/fixtures/feed.xml"),
        ({"FEED_URL": "file:///tmp/feed.xml"}, "feed_url", "file:///tmp/feed.xml"),
        ({"FEED_URL": "http://127.0.0.1:8000/feed"}, "feed_url", "http://127.0.0.1:8000/feed"),
    ],
)
def test_the_accepted_forms_of_urls(env, attr, value):
    """Postgres URLs as hosts give them, and a feed as a path, file:// or http(s) URL, load."""
    assert getattr(load_settings(env=env), attr) == value


def test_a_dotenv_in_the_working_directory_is_read(tmp_path, monkeypatch):
    """A `.env` in the directory the bot is started from sets what the environment does not."""
    (tmp_path / ".env").write_text("POLL_INTERVAL=77\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLL_INTERVAL", "")  # recorded, so the value .env sets is undone
    monkeypatch.delenv("POLL_INTERVAL")
    assert load_settings().poll_interval == 77


def test_bundled_profile_loads():
    """The BWR profile names the newsletter's sections and templates."""
    p = load_profile()
    assert "Takeaways" in p.sections.takeaways
    assert p.thread.templates["takeaway"] == "{label} — {text}"
    assert p.sections.volume.search("Vol 3, No 28 - BWR 06.07.2025")


X = {"newsletter": {"name": "X"}}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({**X, "thread": {"quick_bites": "elsewhere"}}, "thread.quick_bites"),
        ({**X, "thread": {"templates": {"root": "{nope}"}}}, "thread.templates.root"),
        ({**X, "thread": {"templates": {"rooot": "x"}}}, "thread.templates.rooot"),
        ({**X, "thread": {"hashtags": ["two words"]}}, "thread.hashtags"),
        ({**X, "sections": {"volume": "("}}, "sections.volume"),
        ({"newsletter": {"name": ""}}, "newsletter.name"),
        ({"newsletter": {"name": "X", "language": "english!"}}, "newsletter.language"),
        ({**X, "thread": {"pin_lastest": True}}, "thread.pin_lastest"),
        ({**X, "thread": {"replies": "friends"}}, "thread.replies"),
        ({**X, "thread": {"quotes": "no"}}, "thread.quotes"),
        ({**X, "review": {"short_issue": "drop"}}, "review.short_issue"),
        ({**X, "review": {"min_takeaways": -1}}, "review.min_takeaways"),
        ({**X, "reveiw": {}}, "reveiw"),
        ({**X, "sections": {"takeaway": ["T"]}}, "sections.takeaway"),
        ({"newsletter": {"name": "X", "lang": "en"}}, "newsletter.lang"),
    ],
)
def test_a_wrong_profile_names_the_key(data, key):
    """A profile error names the key at fault and the file, in one line (an unknown key too: a
    typo such as pin_lastest is never silently ignored)."""
    with pytest.raises(ConfigError) as err:
        parse_profile(data, "p.toml")
    assert f"[{key}]" in str(err.value)
    assert "p.toml" in str(err.value)
    assert "\n" not in str(err.value)


def test_bwr_holds_a_short_issue_and_other_newsletters_post_as_today():
    """BWR's profile holds an issue without takeaways (or with reader warnings) for the editor;
    a profile without [review] posts what was read, and threads get no gate and no pin."""
    bwr = load_profile()
    assert (bwr.review.min_takeaways, bwr.review.short_issue) == (1, "hold")
    assert bwr.review.hold_on_warnings
    other = parse_profile(X, "p.toml")
    assert (other.review.min_takeaways, other.review.short_issue) == (0, "post")
    assert (other.thread.replies, other.thread.quotes, other.thread.pin_latest) == (
        "everyone", True, False
    )
