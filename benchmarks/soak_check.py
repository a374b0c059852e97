"""The soak's checker: its verdict on what the PDS and the database hold once the faults
stopped, from values alone (benchmarks/soak.py reads them; tests/test_soak.py tests this on its
own against each kind of wrong)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def judge(records: dict[str, list[dict[str, Any]]], due: dict[str, set[str]],
          counts: dict[str, set[int]], rows: list[tuple[str, str, str, str | None]]
          ) -> list[str]:
    """The checker's verdict. `records`: each account's posts as the PDS lists them; `due`: the
    issue links each account must have; `counts`: the post counts the composer gives for the
    versions of each issue; `rows`: (bot, link, state, error) of every issue in the database."""
    findings: list[str] = []
    for handle, posts_of in records.items():
        link_of = {r["uri"]: r["value"].get("embed", {}).get("external", {}).get("uri", "?")
                   for r in posts_of if "reply" not in r["value"]}
        posts: Counter[str] = Counter()
        for r in posts_of:
            root = r["value"]["reply"]["root"]["uri"] if "reply" in r["value"] else r["uri"]
            if root not in link_of:
                findings.append(f"{handle}: a reply whose root is not there: {r['uri']}")
                continue
            posts[root] += 1
        per_link = Counter(link_of.values())
        for link, n in per_link.items():
            if n > 1:
                findings.append(f"{handle}: DUPLICATE: {n} threads for {link}")
            if link not in due.get(handle, set()):
                findings.append(f"{handle}: a stray thread for {link}")
        for root, link in link_of.items():
            if link in counts and posts[root] not in counts[link]:
                findings.append(f"{handle}: half a thread for {link}: {posts[root]} posts, "
                                f"the composer gives {sorted(counts[link])}")
        for link in sorted(due.get(handle, set()) - set(per_link)):
            findings.append(f"{handle}: LOST: {link} is not posted")
    for bot, link, state, error in rows:
        if state != "posted":
            findings.append(f"database: {bot} {link} is {state}: {error or '-'}")
    want = sum(len(links) for links in due.values())
    posted = sum(1 for row in rows if row[2] == "posted")
    if posted != want:
        findings.append(f"database: {posted} of {want} issues posted")
    return findings
