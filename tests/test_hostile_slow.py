"""Slow servers cannot hold the bot: every request (connect, headers, body) ends by its deadline,
by the clock, however the bytes trickle. Each test stands up a real loopback server that answers
a byte at a time (tests/trickle.py), as the attack was made: before, each byte arriving within the
read timeout kept the request alive for hours (preview and poll were killed at 120 s)."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from trickle import trickle_server

from bot.bluesky.connection import Connection
from bot.bluesky.session import MemorySessionKeeper
from bot.cards import CardFetcher
from bot.core.post import Card
from bot.errors import FeedError, PublishError
from bot.feed import fetch_feed
from bot.net import Refused, resolve
from bot.notify import Alert, Notifier

FALLBACK = Card(uri="https://example.org/x", title="Feed title", description="Feed subtitle")


def test_a_feed_that_sends_its_body_a_byte_at_a_time_fails_by_its_deadline():
    with trickle_server("body", every=0.2, ctype="application/rss+xml") as slow:
        with pytest.raises(FeedError, match="timed out"):
            fetch_feed(slow.url + "/feed", timeout=1.0, retries=0)


def test_a_feed_that_sends_its_headers_a_byte_at_a_time_fails_by_its_deadline():
    with trickle_server("headers", every=0.2, ctype="application/rss+xml") as slow:
        with pytest.raises(FeedError, match="timed out"):
            fetch_feed(slow.url + "/feed", timeout=1.0, retries=0)


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_card_page_that_trickles_gives_the_feed_card(tmp_path, caplog, part):
    caplog.set_level(logging.WARNING, logger="bot.cards")
    with trickle_server(part, every=0.2) as slow, CardFetcher(
        tmp_path / "cards", allow_private=True, timeout=1.0
    ) as fetcher:
        card = fetcher.card(slow.url + "/p", FALLBACK)
    assert (card.title, card.description) == ("Feed title", "Feed subtitle")
    assert slow.connections == 1
    assert "card.page_failed" in caplog.text


def test_a_picture_that_trickles_is_no_picture(tmp_path):
    with trickle_server("body", every=0.2, ctype="image/png", body=b"\x89PNG" + b"0" * 5000
                        ) as slow, CardFetcher(tmp_path / "c", allow_private=True,
                                               timeout=1.0) as fetcher:
        assert fetcher.thumb(slow.url + "/pic.png") is None


def test_a_webhook_that_answers_a_byte_at_a_time_does_not_hold_the_alerts(caplog):
    caplog.set_level(logging.WARNING, logger="bot.notify")
    with trickle_server("headers", every=0.2) as slow:
        notifier = Notifier(slow.url + "/hook", timeout=1.0, attempts=1)
        notifier.send(Alert.FAILED, "Could not post")
        notifier.close(timeout=30)
    assert notifier.dropped == 1 and notifier.delivered == 0
    assert "notify.failed" in caplog.text


def test_a_pds_that_answers_a_byte_at_a_time_is_a_publish_error_not_a_hang():
    with trickle_server("headers", every=0.2, ctype="application/json") as slow:
        connection = Connection(slow.url, "someone.test", "abcd-efgh-ijkl-mnop",
                                MemorySessionKeeper(), timeout=1.0, max_attempts=2,
                                sleep=lambda s: None)
        try:
            with pytest.raises(PublishError):
                connection.sign_in()
        finally:
            connection.close()
    assert slow.connections >= 1


def test_a_dns_lookup_that_never_answers_is_refused_by_its_timeout(monkeypatch):
    """getaddrinfo has no timeout: the lookup runs aside and is given up on."""
    started = []

    def stuck(*args, **kwargs):
        started.append(args[0])
        time.sleep(3)
        raise socket.gaierror("late")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    with pytest.raises(Refused, match="no answer within 0.5 s"):
        resolve("slow.example", 80, timeout=0.5)
    assert started == ["slow.example"]



def _self_signed(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as PEM files (the test's own CA)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.mark.parametrize("trickle", [False, True])
def test_https_goes_through_the_deadline_too(tmp_path, trickle):
    """Production speaks https: the deadline holds over TLS (the handshake and the reads of
    the wrapped socket), and a normal answer still arrives whole."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from bot.net import DeadlineTransport

    cert, key = _self_signed(tmp_path)
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = b"x" * 2000
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                if trickle and stop.wait(0.2):
                    return
                self.wfile.write(body[i:i + 1] if trickle else body[i:])
                if not trickle:
                    return

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client_context = ssl.create_default_context(cafile=cert)
    url = f"https://127.0.0.1:{server.server_port}/"
    try:
        with httpx.Client(transport=DeadlineTransport(1.0, verify=client_context)) as client:
            if trickle:
                with pytest.raises(httpx.ReadTimeout):
                    client.get(url)
            else:
                assert client.get(url).content == b"x" * 2000
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
