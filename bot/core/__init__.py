"""The pure core: the newsletter profile, reading an issue's HTML into sections, measuring and
splitting text, composing a thread into post records, record keys, post checks and the rules of
what is news. No network, database or clock: data in, data out (tests/test_architecture.py)."""
