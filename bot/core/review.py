"""The review: is an issue what the newsletter profile expects, and if not, what the daemon does
with it — hold it for the editor, post only its announcement, or post it as read ([review] in
the profile). Pure: `preview`, `inspect` and the daemon ask the same question."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.core.model import Issue
from bot.core.profile import Profile


class Action(enum.StrEnum):
    POST = "post"  # as read
    HOLD = "hold"  # for the editor: approve, post or skip
    ANNOUNCE = "announce"  # the root post and its card only


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str | None = None  # why it falls short, for the editor (None: it does not)

    def describe(self) -> str:
        """One line for preview and inspect."""
        if self.action is Action.HOLD:
            return f"held for the editor: {self.reason}"
        if self.action is Action.ANNOUNCE:
            return f"announced only (root post and card): {self.reason}"
        return f"posted as read ({self.reason})" if self.reason else "posted"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def review(issue: Issue, profile: Profile) -> Verdict:
    """What the daemon does with `issue` (see the module docstring)."""
    rules = profile.review
    found = len(issue.takeaways)
    if found < rules.min_takeaways:
        reason = (
            f"{_plural(found, 'takeaway')} found, the profile expects at least "
            f"{rules.min_takeaways}"
        )
        if issue.warnings:
            reason += f"; the reader says: {issue.warnings[0]}"
        action = Action(rules.short_issue)
        if action is not Action.POST:
            return Verdict(action, reason)
        if not (rules.hold_on_warnings and issue.warnings):
            return Verdict(Action.POST, reason)
    if rules.hold_on_warnings and issue.warnings:
        more = len(issue.warnings) - 1
        extra = f" (and {_plural(more, 'more warning')}; see inspect)" if more else ""
        return Verdict(Action.HOLD, f"the reader warned: {issue.warnings[0]}{extra}")
    return Verdict(Action.POST)
