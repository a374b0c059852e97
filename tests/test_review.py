"""The review: what the daemon does with an issue that is not what the profile expects."""

from __future__ import annotations

import pytest

from bot.core.model import Issue, Takeaway
from bot.core.profile import load_profile, parse_profile
from bot.core.review import Action, review

BWR = load_profile()
TAKEAWAY = Takeaway(label="FOREVER NEIGHBORS", text="It is a tough neighborhood.")


def issue(takeaways=(), warnings=()) -> Issue:
    return Issue(guid="g", link="https://x.test/p/g", title="T", takeaways=tuple(takeaways),
                 warnings=tuple(warnings))


def profile(short_issue: str, hold_on_warnings: bool = False):
    return parse_profile({"newsletter": {"name": "X"}, "review": {
        "min_takeaways": 1, "short_issue": short_issue, "hold_on_warnings": hold_on_warnings}})


def test_a_normal_bwr_issue_is_posted():
    assert review(issue([TAKEAWAY]), BWR).action is Action.POST


def test_a_bwr_issue_without_takeaways_is_held_saying_why():
    """The reason names what was found, what was expected and what the reader said."""
    verdict = review(issue(warnings=["takeaways: none found after the note"]), BWR)
    assert verdict.action is Action.HOLD
    assert verdict.reason == (
        "0 takeaways found, the profile expects at least 1; the reader says: takeaways: none "
        "found after the note"
    )


def test_a_bwr_issue_the_reader_warned_about_is_held():
    verdict = review(issue([TAKEAWAY], ["a paragraph after the takeaways", "a stray link"]), BWR)
    assert verdict.action is Action.HOLD
    assert verdict.reason == (
        "the reader warned: a paragraph after the takeaways (and 1 more warning; see inspect)"
    )


@pytest.mark.parametrize(
    ("short_issue", "action"),
    [("hold", Action.HOLD), ("announce", Action.ANNOUNCE), ("post", Action.POST)],
)
def test_what_a_short_issue_gets_is_the_profiles_choice(short_issue, action):
    verdict = review(issue(), profile(short_issue))
    assert verdict.action is action
    assert verdict.reason == "0 takeaways found, the profile expects at least 1"


def test_warnings_hold_only_when_the_profile_says_so():
    warned = issue([TAKEAWAY], ["odd"])
    assert review(warned, profile("post")).action is Action.POST
    assert review(warned, profile("post", hold_on_warnings=True)).action is Action.HOLD


def test_a_newsletter_without_a_review_table_posts_everything():
    """Other newsletters' profiles (no [review]) post as before: an announcement of an issue
    with no takeaways is not held."""
    plain = parse_profile({"newsletter": {"name": "X"}})
    assert review(issue(warnings=["odd"]), plain).action is Action.POST
