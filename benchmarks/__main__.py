"""`python -m benchmarks [--quick] [--json PATH] [--runs N] [--only GROUP ...]`: one table.
`python -m benchmarks soak ...`: the soak, daemons through a stretch of faults (benchmarks/soak.py).

Figures are medians of --runs runs (default 5; --quick: 1 run with small loops, what CI checks);
each run measures the bot and its comparison together and the table shows the median ratio.
The table goes to stdout, progress to stderr, the same table as JSON to --json (default
benchmarks/results.json, git-ignored). Everything runs on 127.0.0.1: the reference PDS from
tests/pds (PDS_NODE/PDS_DIR from tests/pds/install.sh, which runs if they are unset) and small
HTTP servers of our own (the card pages on 127.0.0.1-7). Exit status 0 even when a target is
missed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.common import ROOT, Config, Figure, log, table, write_json

GROUPS = ("compose", "cards", "hostile", "status", "publish", "pass", "sessions", "idle",
          "fleet", "accounts", "scale")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["soak"]:  # a run of its own (minutes of faults), not a figure of the table
        from benchmarks import soak

        return soak.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="Every benchmark figure, one table.")
    parser.add_argument("--quick", action="store_true", help="1 run, small loops (CI smoke check)")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 5)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json",
                        help="where to write the table as JSON")
    parser.add_argument("--pds-url", default=None,
                        help="use this running test PDS (loopback) instead of starting one")
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS),
                        help="measure only these groups of figures")
    parser.add_argument("--bots", type=int, default=None,
                        help="bots of the scale figures (default 10000; --quick: 1000)")
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else (1 if args.quick else 5)
    if runs < 1:
        parser.error("--runs must be at least 1")
    config = Config(runs=runs, quick=args.quick)
    # The bot's one-line events would drown the table; warnings still show.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    started = time.monotonic()
    figures: list[Figure] = []
    if "compose" in args.only:
        from benchmarks import compose

        figures += compose.measure(config)
    if "cards" in args.only:
        from benchmarks import cards

        figures += cards.measure(config)
    if "hostile" in args.only:
        from benchmarks import hostile

        figures += hostile.measure(config)
    if "status" in args.only:
        from benchmarks import status

        figures += status.measure(config)
    if "scale" in args.only:  # no PDS: a counting server stands for it (none should be asked)
        from benchmarks import scale

        figures += scale.measure(config, args.bots or (1000 if args.quick else 10_000))
    needs_pds = {"publish", "pass", "sessions", "idle", "fleet", "accounts"} & set(args.only)
    with ExitStack() as stack:
        pds = None
        if needs_pds:
            from benchmarks.pds import existing_pds, running_pds

            pds = existing_pds(args.pds_url) if args.pds_url else stack.enter_context(
                running_pds())
        if "publish" in args.only:
            from benchmarks import publish

            figures += publish.measure(config, pds)
        if "pass" in args.only:
            from benchmarks import one_pass

            figures += one_pass.measure(config, pds)
        if "sessions" in args.only:
            from benchmarks import sessions

            figures += sessions.measure(config, pds)
        if "idle" in args.only:
            from benchmarks import idle

            figures += idle.measure(config, pds)
        if "fleet" in args.only:
            from benchmarks import fleet

            figures += fleet.measure(config, pds)
        if "accounts" in args.only:
            from benchmarks import accounts

            figures += accounts.measure(config, pds)

    print(table(figures), flush=True)
    write_json(args.json, figures, config, {"seconds": round(time.monotonic() - started, 1)})
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
