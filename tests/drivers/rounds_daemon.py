"""`python tests/drivers/rounds_daemon.py LEASE_SECONDS`: the daemon `python -m bot run` starts
for a BOTS_FILE of many bots (bot.service.checks.RoundsDaemon), with leases of LEASE_SECONDS so
a test sees daemons divide the bots and take over a killed one's in seconds, not minutes. Stops
on SIGTERM as `run` does."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.bots import load_bots  # noqa: E402
from bot.log import configure  # noqa: E402
from bot.service.checks import RoundsDaemon  # noqa: E402
from bot.service.daemon import build_daemon, install_signal_handlers  # noqa: E402


def main(lease_seconds: float) -> int:
    configure()
    store, daemon = build_daemon(load_bots(dotenv=False))
    assert isinstance(daemon, RoundsDaemon), "the test needs a BOTS_FILE of many bots"
    daemon.lease_seconds = lease_seconds
    install_signal_handlers(daemon.stop)
    try:
        return daemon.run()
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1])))
