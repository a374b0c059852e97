"""BWR bot: cross-posts the Barbershop Whispers…Russia newsletter to Bluesky as threads."""

__version__ = "0.1.0"
USER_AGENT = (
    f"bwr-bot/{__version__} (newsletter-to-Bluesky cross-poster; +https://aablanco.substack.com)"
)
