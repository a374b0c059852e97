"""Deterministic record keys (bot.core.rkey): valid TIDs, increasing along a thread, stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.rkey import decode_tid, encode_tid, is_tid, keys_from_root, thread_keys

TID_CHARS = set("234567abcdefghijklmnopqrstuvwxyz")

guids = st.text(min_size=1, max_size=80)
dates = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.one_of(st.none(), st.just(UTC), st.builds(
            lambda h: timezone(timedelta(hours=h)), st.integers(-12, 14))),
    ),
)
counts = st.integers(min_value=0, max_value=300)
generations = st.integers(min_value=0, max_value=50)


@given(guids, dates, counts, generations)
def test_keys_are_valid_tids(guid, published, count, generation):
    """Every key is a TID the PDS accepts: 13 sortable-base32 chars, first char below 'k'."""
    keys = thread_keys(guid, published, count, generation)
    assert len(keys) == count
    for key in keys:
        assert len(key) == 13
        assert set(key) <= TID_CHARS
        assert key[0] in "234567abcdefghij"
        assert is_tid(key)


@given(guids, dates, counts, generations)
def test_keys_increase_along_the_thread(guid, published, count, generation):
    """Keys sort in thread order, so the root has the smallest key and no two posts share one."""
    keys = thread_keys(guid, published, count, generation)
    assert all(a < b for a, b in zip(keys, keys[1:], strict=False))


@given(guids, dates, counts, generations)
def test_keys_are_the_same_on_every_run(guid, published, count, generation):
    """A rerun after a crash addresses exactly the same records."""
    assert thread_keys(guid, published, count, generation) == thread_keys(
        guid, published, count, generation
    )


@given(guids, dates, st.integers(1, 50), st.integers(1, 50))
def test_shorter_thread_is_a_prefix(guid, published, n, m):
    """Keys depend on the post's place only, so a recomposed thread keeps its first posts' keys."""
    short, long = sorted((n, m))
    assert thread_keys(guid, published, long)[:short] == thread_keys(guid, published, short)


@given(guids, dates, st.integers(1, 30), generations)
def test_new_generation_gets_new_keys(guid, published, count, generation):
    """`post --force` (a higher generation) never reuses a key of an earlier generation."""
    first = set(thread_keys(guid, published, count, generation))
    again = set(thread_keys(guid, published, count, generation + 1))
    assert first.isdisjoint(again)


@given(guids, dates, st.integers(1, 200), generations)
def test_parts_of_an_issue_get_distinct_keys(guid, published, count, generation):
    """The issue's second thread (quick bites on their own) never shares a key with the first."""
    first = thread_keys(guid, published, count, generation, part=0)
    second = thread_keys(guid, published, count, generation, part=1)
    assert set(first).isdisjoint(second)
    assert first[-1] < second[0]


def test_distinct_issues_published_the_same_second_get_distinct_keys():
    """Two issues with the same date still get different keys (the clock id comes from the guid)."""
    when = datetime(2025, 7, 6, 12, 0, tzinfo=UTC)
    a = thread_keys("https://aablanco.substack.com/p/bwr-a", when, 20)
    b = thread_keys("https://aablanco.substack.com/p/bwr-b", when, 20)
    assert set(a).isdisjoint(b)


def test_root_key_encodes_the_publication_time():
    """The root key's timestamp is the issue's publication time, so keys sort like the issues."""
    when = datetime(2025, 7, 6, 12, 30, 15, 123456, tzinfo=UTC)
    ts, clock = decode_tid(thread_keys("guid-1", when, 1)[0])
    assert ts == 1751805015123456
    assert 0 <= clock < 1024


def test_naive_date_is_utc():
    """A date without a timezone is read as UTC."""
    aware = datetime(2025, 7, 6, 12, 0, tzinfo=UTC)
    assert thread_keys("g", aware.replace(tzinfo=None), 3) == thread_keys("g", aware, 3)


def test_undated_issue_keys_are_stable_and_valid():
    """An issue without a date still gets fixed, valid keys from its guid."""
    keys = thread_keys("guid-without-date", None, 5)
    assert keys == thread_keys("guid-without-date", None, 5)
    assert keys != thread_keys("another-guid", None, 5)
    assert all(is_tid(k) for k in keys)


@given(st.integers(0, (1 << 53) - 1), st.integers(0, 1023))
def test_encode_decode_roundtrip(ts, clock):
    """encode_tid and decode_tid are inverse."""
    assert decode_tid(encode_tid(ts, clock)) == (ts, clock)


def test_known_tid_values():
    """The encoding follows the TID spec: alphabet, bit layout, and the spec's example key."""
    assert encode_tid(0, 0) == "2222222222222"
    assert encode_tid(0, 1) == "2222222222223"
    assert encode_tid(1, 0) == "2222222222322"
    # "3jzfcijpj2z2a" is the example in atproto.com/specs/record-key: 2023-06-30T15:03:01.887007Z
    assert decode_tid("3jzfcijpj2z2a") == (1688137381887007, 6)


@pytest.mark.parametrize("bad", ["", "my-key", "2222222222222a", "k222222222222", "222222222222A"])
def test_non_tids_are_rejected(bad):
    """Strings the PDS would refuse as a TID are not TIDs here either."""
    assert not is_tid(bad)
    with pytest.raises(ValueError):
        decode_tid(bad)


@given(st.text(min_size=1, max_size=40), st.integers(0, 3), st.integers(0, 9),
       st.integers(0, 50))
def test_keys_from_the_recorded_root_are_the_thread_keys(guid, generation, part, count):
    """A thread's keys follow from its recorded first key exactly as from the issue."""
    published = datetime(2025, 7, 3, 9, 30, tzinfo=UTC)
    root = thread_keys(guid, published, 1, generation)[0]
    assert keys_from_root(root, count, part) == thread_keys(guid, published, count, generation,
                                                             part)
