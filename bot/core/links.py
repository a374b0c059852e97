"""A posted link without the tracking parameters feeds add to it (`utm_*`, `fbclid`,
`mc_cid`/`mc_eid`, `?source=rss…`, `ref=rss`): they say where a click came from to the
publisher's analytics, not what page it is. The rest of the address is kept byte for byte.

A small list of our own: the maintained lists on the package index come inside a crawler's
toolkit (with its language and domain dependencies) or are fetched from a filter list at run
time, which the bot must not do. Parameters whose value is the address's meaning (`id`, `p`,
`page`, a `ref` that is not a feed's) are never touched.

Pure: the stdlib.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

# Names that are tracking whatever their value (lower case; `utm_` and friends by prefix).
_TRACKING_NAMES = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "vero_id", "wt.mc_id", "cmpid", "ncid", "_ga", "_gl", "spm",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_")
# Names that are tracking when their value says "the feed": ?source=rss, ?ref=rss, ?from=feed.
_FEED_NAMES = frozenset({"source", "ref", "from", "src", "rss", "via", "cid", "ref_src"})
_FEED_VALUE = re.compile(r"(?i)^(?:rss|atom|feed|feeds|feedburner)(?:[\W_].*)?$")


def _is_tracking(pair: str) -> bool:
    name, _, value = pair.partition("=")
    name = unquote_plus(name).strip().lower()
    if name in _TRACKING_NAMES or name.startswith(_TRACKING_PREFIXES):
        return True
    return name in _FEED_NAMES and bool(_FEED_VALUE.match(unquote_plus(value).strip()))


def untracked(url: str) -> str:
    """`url` without its tracking parameters (and without a "?" left empty)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    pairs = [p for p in parts.query.split("&") if p]
    kept = [p for p in pairs if not _is_tracking(p)]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))
