"""Webhook rules: which URLs and addresses are accepted, which events, how bodies are signed."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.domain.errors import DomainError
from bot.domain.webhooks import (
    ALL_EVENTS,
    check_addresses,
    check_url,
    is_public_address,
    parse_events,
    sign,
    verify,
)


def test_https_urls_are_accepted_with_their_port() -> None:
    target = check_url(" https://hooks.example.com/cocreate ", allow_localhost=False)
    assert (target.url, target.host, target.port, target.local) == (
        "https://hooks.example.com/cocreate",
        "hooks.example.com",
        443,
        False,
    )
    assert check_url("https://example.com:8443/x", allow_localhost=False).port == 8443


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://example.com/",
        "example.com/hook",
        "https:///nohost",
        "https://user:pw@example.com/",
        "https://example.com:99999/",
        "https://example.com/" + "a" * 500,
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(DomainError) as caught:
        check_url(url, allow_localhost=True)
    assert caught.value.code == "bad_webhook_url"


def test_http_localhost_only_when_the_process_allows_it() -> None:
    with pytest.raises(DomainError):
        check_url("http://localhost:8080/hook", allow_localhost=False)
    target = check_url("http://127.0.0.1:8080/hook", allow_localhost=True)
    assert target.local and target.port == 8080
    with pytest.raises(DomainError):  # only local names
        check_url("http://example.com/hook", allow_localhost=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("224.0.0.1", False),
        ("not an ip", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_a_host_with_any_private_address_is_refused() -> None:
    check_addresses("example.com", ["93.184.216.34"], local=False)
    with pytest.raises(DomainError) as caught:
        check_addresses("sneaky.example", ["93.184.216.34", "10.0.0.7"], local=False)
    assert caught.value.code == "webhook_private"
    with pytest.raises(DomainError) as caught:
        check_addresses("nowhere.example", [], local=False)
    assert caught.value.code == "webhook_unresolved"
    check_addresses("localhost", ["127.0.0.1"], local=True)


def test_events() -> None:
    assert parse_events("all") == ALL_EVENTS == parse_events("")
    assert parse_events("merged, created") == ("idea.created", "idea.merged")
    assert parse_events("idea.status_changed") == ("idea.status_changed",)
    with pytest.raises(DomainError):
        parse_events("created, voted")


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"event":"idea.created"}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign("s3cret", body) == f"sha256={expected}"
    assert verify("s3cret", body, sign("s3cret", body))
    assert not verify("s3cret", body + b" ", sign("s3cret", body))
    assert not verify("other", body, sign("s3cret", body))
