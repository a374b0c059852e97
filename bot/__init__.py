"""BWR bot: cross-posts the Barbershop Whispers…Russia newsletter to Bluesky as threads."""

from pathlib import Path

__version__ = "0.1.0"
USER_AGENT = (
    f"bwr-bot/{__version__} (newsletter-to-Bluesky cross-poster; +https://aablanco.substack.com)"
)

_PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """A folder the bot ships with (`config`, `migrations`): inside the package when installed
    from a wheel (pyproject.toml maps them to bot/<name>), else at the checkout's top level."""
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name
