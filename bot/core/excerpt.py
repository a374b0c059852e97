"""An item's description as a subtitle, and an item's address as a link: what feeds of any
newsletter platform leave in them that must not be posted.

- `excerpt`: the description's words without the trailing "read more" a platform adds (a link
  back to the item itself, the paragraph holding it, an arrow, "[…]"), and a cut excerpt ended
  at its last whole word with "…". Recognised by structure, not by language.
- `repair`: mojibake ("giÃ " for "già") undone by ftfy, which only touches text that decodes
  better another way.
- `web_address`: an item's link resolved against the feed's bases and written in normal form
  (scheme and host in lower case), or None when it is not an absolute http(s) address.

Pure: lxml, ftfy and the stdlib.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree

from bot.core.blocks import clean, parse_html
from bot.core.boilerplate import drop_boilerplate

# Elements that are never the description's words: pictures, scripts, Blogger's footer of feeds.
_DROP_TAGS = frozenset({"img", "script", "style", "iframe", "video", "audio", "figure", "svg"})
_DROP_CLASS = re.compile(r"blogger-post-footer|feedflare|share", re.IGNORECASE)
_BLOCKS = frozenset(
    {"p", "div", "li", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}
)
# What a platform ends an excerpt with: arrows, guillemets, an ellipsis in brackets ("[…]",
# "[...]", "[&hellip;]", or "[?]" where a lossy encoding ate the ellipsis).
_TRAILING_ARROW = re.compile(r"(?:\s*[→⟶➔➜➝➞»›])+\s*$")
_TRAILING_CUT = re.compile(r"\s*(?:\[(?:…|\.{2,}|\?|&hellip;)\]|\(…\))\s*$")
# A relative reference looks like a path; a bare word ("right", "1") is not an address at all.
_RELATIVE = re.compile(r"^(?:/|\./|\.\./|\?|#)|/")
_TRAILING_DOTS = re.compile(r"(\s*)(?:…|\.{2,})\s*$")
# Programs cut excerpts at 100 characters and more; a shorter text's "..." is the author's.
_PROGRAM_EXCERPT = 100
# Markup left in a description's text: it was escaped twice.
_MARKUP = re.compile(
    r"<(?:p|div|br|span|a|img|b|i|em|strong|ul|li|h[1-6])\b[^>]*>|<!--|&lt;[a-z/!]", re.IGNORECASE
)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});", re.IGNORECASE)
# "Â" alone before a space (or at a word's end): half of a NBSP's mojibake.
_STRAY_A = re.compile("(?<=\\S)\u00c2(?=[ \u00a0]|$)|(?<= )\u00c2(?= )")
# A word that looks like a web address: a cut must never end on one ("…" would join its link).
_ADDRESS_WORD = re.compile(r"(?i)^\W*(?:https?://|www\.)\S*$")
# Words that do not end a thought (articles, prepositions, conjunctions) in the languages of the
# real feeds: a cut excerpt does not end on one ("the…", "de…").
_FUNCTION_WORDS = frozenset(
    """a an the and or but nor of to in on at by for from with as into than that this these
    those its his her their our your my is are was were be been has have had will would can
    de la le les du des un une et ou au aux en par pour sur dans que qui
    der die das den dem des ein eine einen und oder mit von zu im am auf für ist
    el los las lo una unos y o del al con por para e os as um uma do da dos das no na em com
    il lo gli di del della che per con nel van het een en of op te voor met""".split()
)
_SENTENCE_END = tuple(".!?。！？»”\"')")
# The last word of a text, with the space before it (none for the text's only word).
_LAST_WORD = re.compile(r"(?:^|\s+)(\S+)\s*$")
# Titles and abbreviations whose stop does not end a sentence ("Dr. Smith", "No. 5").
_ABBREVIATIONS = frozenset("mr mrs ms dr st sr jr vs prof no nr ca etc approx fig vol".split())
# A sentence's last stop, with any closing quote or bracket, and a space or the text's end after.
_SENTENCE_STOP = re.compile(r"(?:[.!?]|[。！？])[\"'”’»)\]]*(?=\s|$)|[。！？]")


# What UTF-8 read as Latin-1 or cp1252 leaves behind: a lead byte as "Â"…"ô" followed by a
# continuation byte as a C1, Latin-1 or cp1252 character (or "Ã " where a NBSP became a space).
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152-\u0178\u02c6\u02dc\u2013-\u203a\u20ac\u2122]|\u00c3 "
)


def repair(text: str) -> str:
    """`text` with mojibake undone (only where ftfy is sure); anything else unchanged. ftfy is
    loaded only for text that shows mojibake's marks (it costs 8 MB the daemon need not hold).
    A non-breaking space read as "Â" + NBSP whose NBSP became a plain space on the way ("Â ")
    is what ftfy cannot see: that "Â" goes too."""
    if not text or text.isascii():
        return text
    if _MOJIBAKE.search(text):
        import ftfy

        text = str(ftfy.fix_encoding(text))
    return _STRAY_A.sub("", text) if "\u00c2" in text else text


def excerpt(html: str, item_link: str = "", _again: bool = True) -> str:
    """A description (HTML or text) as plain text for the subtitle — paragraphs and line breaks
    kept as line breaks — without its trailing read-more and the platforms' boilerplate, with
    entities decoded and a cut ending made clean. A description escaped twice (its text still
    markup after one reading) is read once more."""
    if not html.strip():
        return ""
    root = parse_html(html) if ("<" in html or "&" in html) else None
    if root is None:
        text = clean(html, keep_newlines=True)
    else:
        _drop_noise(root)
        _drop_trailing_self_links(root, item_link)
        _break_blocks(root)
        text = clean("".join(root.itertext()), keep_newlines=True)
    if _again and _MARKUP.search(text):
        return excerpt(text, item_link, _again=False)
    text = decode_entities(text)
    # Repaired mojibake may leave a non-breaking space where the words had two spaces.
    return end_cleanly(drop_boilerplate(clean(repair(text), keep_newlines=True)))


def decode_entities(text: str) -> str:
    """`text` with entities a feed escaped twice ("&#39;", "AT&amp;T") decoded; NFC after, so a
    decoded combining accent ("&#769;") joins its letter."""
    if "&" not in text or not _ENTITY.search(text):
        return text
    return clean(htmllib.unescape(text), keep_newlines=True)


def without_title(subtitle: str, title: str) -> str:
    """The subtitle, unless it only repeats the title (then ""); a subtitle that starts with
    the title loses that start."""
    if not subtitle or not title:
        return subtitle
    folded, head = subtitle.casefold(), title.casefold().rstrip(" .:!?…")
    if folded.rstrip(" .:!?…") == head:
        return ""
    if len(head) >= 12 and folded.startswith(head):
        rest = subtitle[len(head) :].lstrip(" .:!?…–—-|\n")
        return rest if rest else ""
    return subtitle


def _break_blocks(root: etree._Element) -> None:
    """A line break where one block ends and the next begins (and at <br>), and nowhere else:
    inline tags join their words as written ("<b>None</b>." stays "None."); cells of a table
    row are apart by a space."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag in _BLOCKS | {"br", "tr"}:
            el.text = "\n" + (el.text or "")
            el.tail = "\n" + (el.tail or "")
        elif tag in ("td", "th"):
            el.text = " " + (el.text or "")
            el.tail = " " + (el.tail or "")


def end_cleanly(text: str) -> str:
    """`text` without trailing arrows or bracketed ellipses; a trailing "..." (the feed's own
    cut) becomes "…" after the last whole word. Where a program cut the text ("[…]", or dots
    after 100 characters and more), the cut ends as ours do (`cut_to_words`): at a sentence's
    end in the last third of the text, else not on a function word."""
    text = _TRAILING_ARROW.sub("", text).rstrip()
    cut = _TRAILING_CUT.search(text)
    if cut:  # "[…]": the platform cut here, after a whole word
        return _end_of_cut(text[: cut.start()])
    m = _TRAILING_DOTS.search(text)
    if not m:
        return text
    head = text[: m.start()]
    if not m.group(1) and m.group().strip().startswith("..") and head and head[-1].isalnum():
        # Dots a program added stick to a word: that word may be cut ("renovaç..."), so it
        # goes. (A "…" is ours or the author's: the word before it is whole.)
        space = max(head.rfind(" "), head.rfind("\n"))
        if space > 0 and not _whole_before_dots(head[:space], head[space + 1 :]):
            head = head[:space]
    return _end_of_cut(head) if len(head) >= _PROGRAM_EXCERPT else _ellipsis(head)


def _end_of_cut(head: str) -> str:
    """A text a program cut, ended as `cut_to_words` ends ours."""
    head = head.rstrip()
    sentence = _last_sentence_end(head, len(head))
    if sentence is not None and sentence != head:
        return sentence
    return _ellipsis(_last_good_word(head))


def _whole_before_dots(before: str, word: str) -> bool:
    """Whether `word`, which "..." sticks to, is whole: it is written whole earlier in the text,
    or the text is too short to be a program's excerpt (those run to 100 characters and more)
    and the word is longer than an initial ("T...")."""
    if len(word) > 2 and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", before, re.IGNORECASE):
        return True
    return len(before) < _PROGRAM_EXCERPT and len(word) > 2


def _ellipsis(head: str) -> str:
    """`head` ended with "…", unless it already ends a sentence. A web address is never the
    last word before "…": it may be cut, and "…" would join its link."""
    head = head.rstrip(" ,;:–—-\n")
    while (last := _LAST_WORD.search(head)) is not None and _ADDRESS_WORD.match(last.group(1)):
        head = head[: last.start()].rstrip(" ,;:–—-\n")
    if not head:
        return ""
    return head if head.endswith(_SENTENCE_END) else head + "…"


def cut_to_words(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters: at the end of a sentence when one ends in
    the last third of the room (then without "…"); else after its last whole word that is not a
    function word ("the", "de"), with "…" (or at a character, for scripts written without
    spaces). Never inside or right after a web address."""
    if len(text) <= limit:
        return text
    if limit < 2:
        return ""
    sentence = _last_sentence_end(text, limit)
    if sentence is not None:
        return sentence
    head = text[: limit - 1]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space > limit // 2:  # a word boundary not too far back; else the text has no spaces
        head = head[:space]
    return _ellipsis(_last_good_word(head))


def _last_sentence_end(text: str, limit: int) -> str | None:
    """`text` up to the last sentence that ends within `limit` characters and past two thirds
    of it; None when there is none."""
    for m in reversed(list(_SENTENCE_STOP.finditer(text, 0, limit + 1))):
        end = m.end()
        if end < limit * 2 // 3:
            return None
        followed = end == len(text) or text[end].isspace()  # not "3.5", not "example.org"
        if end <= limit and followed and _ends_a_sentence(text, m.start()):
            return text[:end].rstrip()
    return None


def _ends_a_sentence(text: str, stop: int) -> bool:
    """Whether the stop at `stop` ends a sentence: not an initial ("J. Smith"), not "e.g."."""
    if text[stop] in "。！？":
        return True
    word = text[:stop].rsplit(None, 1)[-1] if text[:stop].strip() else ""
    word = word.strip("\"'“‘(")
    return len(word) > 1 and "." not in word and word.casefold() not in _ABBREVIATIONS


def _last_good_word(head: str) -> str:
    """`head` without the trailing words a cut must not end on: function words, web addresses
    (a few at most: "…and of the…" goes back to the word before "and")."""
    for _ in range(4):
        last = _LAST_WORD.search(head)
        if last is None or last.start() == 0:
            break
        word = last.group(1)
        if word.strip(",;:–—-").casefold() in _FUNCTION_WORDS or _ADDRESS_WORD.match(word):
            head = head[: last.start()]
        else:
            break
    return head


def web_address(link: str, bases: Iterable[str] = ()) -> str | None:
    """`link` as an absolute http(s) address in normal form, resolved against the first
    absolute base that makes it one; None when it cannot be one."""
    link = link.strip()
    if not link:
        return None
    for base in ("", *(bases if _RELATIVE.search(link) else ())):
        candidate = link if not base else _join(base, link)
        normal = _normal(candidate)
        if normal is not None:
            return normal
    return None


def _join(base: str, link: str) -> str:
    if _normal(base) is None:
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _normal(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:  # e.g. an unclosed IPv6 bracket, a port that is not a number
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host or not _plausible_host(host):
        return None
    netloc = f"[{host}]" if ":" in host else host
    if parts.username is not None:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def _plausible_host(host: str) -> bool:
    return "." in host or ":" in host or host == "localhost"


def _same_item(href: str, item_link: str) -> bool:
    """Whether `href` is the item's own address (http and https alike)."""
    a, b = _normal(href.strip()), _normal(item_link.strip())
    return a is not None and b is not None and a.split(":", 1)[1] == b.split(":", 1)[1]


def _drop_noise(root: etree._Element) -> None:
    for el in list(root.iter()):
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag.lower() in _DROP_TAGS or _DROP_CLASS.search(el.get("class") or ""):
            _remove(el)


def _drop_trailing_self_links(root: etree._Element, item_link: str) -> None:
    """Remove, from the end backwards, whatever links back to the item itself: the link, and
    the block it sits in when that block is the last one ("The post X appeared first on Y")."""
    if not item_link:
        return
    while True:
        last = _last_content(root)
        if last is None:
            return
        block = last
        while block.getparent() is not None and block.getparent() is not root and (
            not isinstance(block.tag, str) or block.tag.lower() not in _BLOCKS
        ):
            block = block.getparent()
        links = [a for a in block.iter("a") if _same_item(a.get("href") or "", item_link)]
        own = last if last.tag == "a" and _same_item(last.get("href") or "", item_link) else None
        if own is None and not (links and _is_block(block) and block is not root):
            return
        if own is not None and (block is root or not _is_block(block) or _text_outside(block, own)):
            _remove(own)
        else:
            _remove(block)


def _is_block(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and el.tag.lower() in _BLOCKS


def _text_outside(block: etree._Element, link: etree._Element) -> bool:
    """Whether `block` says anything besides `link` (then only the link goes)."""
    inside = clean(" ".join(link.itertext()))
    return bool(clean(" ".join(block.itertext())).replace(inside, "", 1).strip())


def _last_content(root: etree._Element) -> etree._Element | None:
    """The element that holds the root's last visible words (an <a>, or its deepest block)."""
    last: etree._Element | None = None
    for el in root.iter():
        if not isinstance(el.tag, str) or el is root:
            continue
        if (el.text or "").strip():
            last = el
        if (el.tail or "").strip():
            last = el.getparent()
    if last is not None and last.tag != "a":
        for a in last.iter("a"):
            if clean(" ".join(a.itertext())) and not (a.tail or "").strip():
                last = a
    return last


def _remove(el: etree._Element) -> None:
    """Drop `el` but keep the text that follows it (lxml keeps it on the element as tail)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail or ""
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(el)
