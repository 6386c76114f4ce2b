"""Signed, expiring links: a caregiver acts on an alert, or opens their page, without a password.

A link opened on a phone can turn into a device login (hub.accounts) that outlives it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass


class TokenError(ValueError):
    """A link that is forged, damaged or expired."""


class LinkExpired(TokenError):
    """A genuine link past its time: it still says whose it was and which alert it named."""

    def __init__(self, grant: AckGrant) -> None:
        super().__init__("the link has expired")
        self.grant = grant


@dataclass(frozen=True)
class AckGrant:
    alert_id: int
    caregiver_id: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, grant: AckGrant) -> str:
    """Return a URL-safe token carrying the grant and its HMAC-SHA256 signature."""
    body = json.dumps([grant.alert_id, grant.caregiver_id, round(grant.expires)],
                      separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def verify(secret: str, token: str, now: float) -> AckGrant:
    """Return the grant of a genuine, unexpired token; raise TokenError otherwise.

    An expired genuine token raises LinkExpired, which carries its grant.
    """
    grant = read(secret, token)
    if now > grant.expires:
        raise LinkExpired(grant)
    return grant


def read(secret: str, token: str) -> AckGrant:
    """Return the grant of a genuine token, expired or not; raise TokenError otherwise."""
    try:
        body_text, mac_text = token.split(".", 1)
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, TypeError) as exc:
        raise TokenError("malformed link") from exc
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise TokenError("the link's signature is not valid")
    try:
        alert_id, caregiver_id, expires = json.loads(body)
        grant = AckGrant(int(alert_id), str(caregiver_id), float(expires))
    except (ValueError, TypeError) as exc:
        raise TokenError("malformed link") from exc
    return grant
