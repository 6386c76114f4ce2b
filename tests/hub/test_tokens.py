"""Acknowledge links are signed and expire; forged, damaged or old links are refused."""

from __future__ import annotations

import pytest

from hub.tokens import AckGrant, LinkExpired, TokenError, read, sign, verify

SECRET = "s" * 32


def test_roundtrip() -> None:
    token = sign(SECRET, AckGrant(42, "cg-zhang", 2000.0))
    assert verify(SECRET, token, 1999.0) == AckGrant(42, "cg-zhang", 2000.0)


def test_expired() -> None:
    token = sign(SECRET, AckGrant(42, "cg-zhang", 2000.0))
    with pytest.raises(TokenError, match="expired"):
        verify(SECRET, token, 2001.0)


def test_an_expired_genuine_link_still_says_whose_and_which_alert() -> None:
    token = sign(SECRET, AckGrant(42, "cg-zhang", 2000.0))
    with pytest.raises(LinkExpired) as info:
        verify(SECRET, token, 2001.0)
    assert info.value.grant == AckGrant(42, "cg-zhang", 2000.0) == read(SECRET, token)
    with pytest.raises(TokenError, match="signature"):
        read("t" * 32, token)  # a forged one says nothing


def test_other_key_or_tampered_body_is_refused() -> None:
    token = sign(SECRET, AckGrant(42, "cg-zhang", 2000.0))
    with pytest.raises(TokenError, match="signature"):
        verify("t" * 32, token, 0)
    other = sign(SECRET, AckGrant(43, "cg-zhang", 2000.0))
    forged = other.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(TokenError, match="signature"):
        verify(SECRET, forged, 0)


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "!!!.???"])
def test_malformed(junk: str) -> None:
    with pytest.raises(TokenError):
        verify(SECRET, junk, 0)
