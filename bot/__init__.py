"""BWR bot: cross-posts the Barbershop Whispers…Russia newsletter to Bluesky as threads."""

__version__ = "0.1.0"
USER_AGENT = f"bwr-bot/{__version__} (+https://github.com/bwr-bot; newsletter-to-Bluesky cross-poster)"
