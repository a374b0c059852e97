"""Link cards as the Bluesky app makes them: each card's page's title, description and picture,
fetched safely (bot.cards.guard), read (bot.cards.page), fitted for upload (bot.cards.image) and
cached (bot.cards.cache) by the fetcher (bot.cards.fetcher); bot.cards.thread says which links
of a thread get fetched."""

from bot.cards.fetcher import CardFetcher
from bot.cards.guard import Guard, refused_kind
from bot.cards.image import MAX_THUMB_BYTES, fit
from bot.cards.page import _clean, parse_head
from bot.cards.thread import MODES, Mode, cards_of, compose_with_cards
from bot.core.media import Thumb

__all__ = [
    "MAX_THUMB_BYTES",
    "MODES",
    "CardFetcher",
    "Guard",
    "Mode",
    "Thumb",
    "_clean",
    "cards_of",
    "compose_with_cards",
    "fit",
    "parse_head",
    "refused_kind",
]
