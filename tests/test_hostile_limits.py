"""Limits that hold early, and claims that know whose they are: a 9 MB paragraph is refused
before it is split, and a claim made in another container with the same host name and PID is
never taken for a dead process of this one."""

from __future__ import annotations

import subprocess
import sys

import pytest
from drivers.newsletter_feed import NewsletterServer

import bot.core.thread as thread_module
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.thread import MAX_THREAD_CHARS, compose
from bot.errors import ThreadError
from bot.service.posting import holder_gone, process_id, this_machine


def test_a_9_mb_paragraph_is_refused_before_anything_is_split(monkeypatch):
    with NewsletterServer() as nl:
        nl.add("huge")
        nl.edit("huge", extra="word " * 1_800_000)
        data = nl.feed_bytes()
    assert len(data) > 9_000_000
    (issue,) = parse_feed(data, load_profile()).issues

    def never(*args, **kwargs):
        raise AssertionError("split was called")

    monkeypatch.setattr(thread_module, "split", never)
    with pytest.raises(ThreadError) as info:
        compose(issue, load_profile())
    message = str(info.value)
    assert f"more than a thread of 999 posts can hold ({MAX_THREAD_CHARS:,})" in message
    assert "\n" not in message


def test_an_issue_just_under_the_bound_is_still_split_as_ever():
    with NewsletterServer() as nl:
        nl.add("long")
        nl.edit("long", extra="word " * 20_000)  # 100 KB: a long issue, not an attack
        (issue,) = parse_feed(nl.feed_bytes(), load_profile()).issues
    threads = compose(issue, load_profile())
    assert sum(len(t) for t in threads) > 300


def _dead_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def test_a_dead_holder_of_this_host_and_namespace_is_gone():
    assert holder_gone(process_id(_dead_pid()), process_id())


def test_a_holder_from_another_container_with_the_same_host_and_pid_is_waited_for():
    """Another container: the same host name, a PID that is free here, its own namespace."""
    host, pid, token, _machine = process_id(_dead_pid()).split(":")
    other = f"{host}:{pid}:{token}:{'0' * 12}"
    assert this_machine() != "0" * 12
    assert not holder_gone(other, process_id())


def test_a_holder_of_an_older_release_is_waited_for():
    host, pid, token, _ = process_id(_dead_pid()).split(":")
    assert not holder_gone(f"{host}:{pid}:{token}", process_id())


def test_a_live_holder_is_not_gone():
    assert not holder_gone(process_id(), process_id())
