"""Orchestration: the poll pass (worker), the daemon, what the editor does by hand, and the
outcomes they report. The one place that carries values between feed, core, bluesky and store."""
