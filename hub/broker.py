"""Broker identities: users, roles and ACLs on Mosquitto's dynamic-security plugin.

Every client of the hub's broker is a plugin *client* (a user with a password) bound to one
MQTT client id, so that nobody can connect with the hub's id and take its persistent session,
or with another home's id. The plugin is driven by its JSON commands on
`$CONTROL/dynamic-security/v1` (answers on `.../response`), as documented in the plugin's
README (eclipse/mosquitto, plugins/dynamic-security/README.md).

Naming:

| who | broker user | bound client id | role |
|---|---|---|---|
| hub, control lane | `mqtt.username` (or `mqtt.client_id`) | `mqtt.client_id` | `bedwatch-hub` |
| hub, readings lane | the same + `-readings` | `mqtt.client_id` + `-readings` | `bedwatch-hub` |
| ingest worker n ≥ 2 | the same + `-readings-<n>` | the same + `-readings-<n>` | `bedwatch-hub` |
| a home | the home id | the home id | `home-<home id>` |
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt

from bedwatch import wire

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
HUB_ROLE = "bedwatch-hub"
ROOT = wire.TOPIC_ROOT
# Suffix of the readings lane (hub/ingest.py LANES); repeated here so that this module does not
# pull in the hub's MQTT client.
READINGS_SUFFIX = "-readings"
# Ingest workers share the readings as members of this shared-subscription group.
SHARE_GROUP = "bedwatch"
# What a home publishes (upstream) and receives (downstream), below `bw/v1/<home>/`.
HOME_PUBLISHES = ("readings", "events", "status", "devices/+/status", "cmd/ack")
HOME_RECEIVES = ("cmd", "receipts")


class BrokerAdminError(RuntimeError):
    """The broker refused an administrative command, or could not be reached."""

    def __init__(self, command: str, error: str) -> None:
        super().__init__(f"broker command {command!r} failed: {error}")
        self.command = command
        self.error = error


@dataclass(frozen=True)
class BrokerCredentials:
    """What one MQTT client needs to connect: its user, password and bound client id."""

    username: str
    password: str
    client_id: str


@dataclass(frozen=True)
class HomeCredentials(BrokerCredentials):
    """A home's broker identity, as enrolment hands it to the home's edge config."""

    home: str


def new_password() -> str:
    """Return a random password (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def acl(acltype: str, topic: str, allow: bool = True) -> dict[str, Any]:
    """Return one ACL entry in the plugin's format."""
    return {"acltype": acltype, "topic": topic, "allow": allow}


def hub_acls() -> list[dict[str, Any]]:
    """Return the hub's ACLs: read every home, publish only receipts and commands."""
    return [
        acl("subscribePattern", f"{ROOT}/#"),
        acl("unsubscribePattern", f"{ROOT}/#"),
        # The plugin checks a shared subscription by its whole filter, `$share/...` included.
        acl("subscribePattern", f"$share/{SHARE_GROUP}/{ROOT}/#"),
        acl("unsubscribePattern", f"$share/{SHARE_GROUP}/{ROOT}/#"),
        acl("publishClientReceive", f"{ROOT}/#"),
        acl("publishClientSend", f"{ROOT}/+/receipts"),
        acl("publishClientSend", f"{ROOT}/+/cmd"),
    ]


def home_role(home: str) -> str:
    """Return the name of a home's role."""
    return f"home-{home}"


def home_acls(home: str) -> list[dict[str, Any]]:
    """Return a home's ACLs: its own upstream topics to publish, its downstream to receive."""
    base = f"{ROOT}/{check_home(home)}"
    out = [acl("publishClientSend", f"{base}/{rest}") for rest in HOME_PUBLISHES]
    for rest in HOME_RECEIVES:
        # Literal: a home may subscribe to exactly these filters, no wildcard over them.
        out += [acl("subscribeLiteral", f"{base}/{rest}"),
                acl("unsubscribeLiteral", f"{base}/{rest}"),
                acl("publishClientReceive", f"{base}/{rest}")]
    return out


def check_home(home: str) -> str:
    """Return `home` if it is a valid home id, else raise ValueError."""
    if not wire.ID_RE.match(home):
        raise ValueError(f"home id {home!r} does not match {wire.ID_PATTERN}")
    return home


def readings_suffix(worker: int) -> str:
    """Return the client-id suffix of ingest worker `worker` (1-based) on the readings lane."""
    return READINGS_SUFFIX if worker == 1 else f"{READINGS_SUFFIX}-{worker}"


def hub_lane_identities(client_id: str, username: str | None = None, workers: int = 1
                        ) -> list[tuple[str, str]]:
    """Return (user, client id) of each hub lane: control, then readings (one per worker)."""
    user = username or client_id
    return [(user, client_id)] + [(user + readings_suffix(n), client_id + readings_suffix(n))
                                  for n in range(1, workers + 1)]


class BrokerAdmin:
    """A short session as the plugin's admin user that sends commands and waits for answers.

        with BrokerAdmin("127.0.0.1", 1883, "admin", password) as admin:
            admin.run({"command": "listClients"})
    """

    def __init__(self, host: str, port: int, username: str, password: str, *,
                 client_id: str = "bedwatch-admin", ca_file: Path | None = None,
                 tls: bool = False, timeout_s: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=mqtt.MQTTv311)
        self._client.username_pw_set(username, password)
        self._username = username
        if tls or ca_file is not None:
            # Verified against the CA and the host name: never skipped.
            self._client.tls_set_context(ssl.create_default_context(
                cafile=str(ca_file) if ca_file else None))
        self._answers: dict[str, list[dict[str, Any]]] = {}
        self._cond = threading.Condition()
        self._connack: str | None = None  # the broker's answer to CONNECT, once it came
        self._refused = False
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._cond:
            self._connack = str(reason)
            self._refused = bool(reason.is_failure)
            self._cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        with self._cond:
            for response in responses:
                tag = response.get("correlationData")
                if isinstance(tag, str):
                    self._answers.setdefault(tag, []).append(response)
            self._cond.notify_all()

    def __enter__(self) -> Self:
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerAdminError("connect", f"{self.host}:{self.port}: {exc}") from exc
        self._client.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self._connack is not None, self.timeout_s)
            answer, refused = self._connack, self._refused
        if answer is None or refused:
            self._client.disconnect()
            self._client.loop_stop()
            raise BrokerAdminError("connect", f"{self.host}:{self.port} as admin "
                                              f"{self._username!r}: {answer or 'no answer'}")
        info = self._client.subscribe(RESPONSE_TOPIC, qos=1)
        if info[0] != mqtt.MQTT_ERR_SUCCESS:
            raise BrokerAdminError("connect", f"cannot subscribe to {RESPONSE_TOPIC}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def run(self, *commands: dict[str, Any], allow: Iterable[str] = ()
            ) -> list[dict[str, Any]]:
        """Send commands in one message; return each one's `data`.

        Raise BrokerAdminError naming the first command that failed, unless its error text
        is in `allow` (e.g. "Client not found" when deleting).
        """
        tag = uuid.uuid4().hex
        tagged = [{**command, "correlationData": f"{tag}:{i}"}
                  for i, command in enumerate(commands)]
        info = self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        want = {f"{tag}:{i}" for i in range(len(commands))}
        with self._cond:
            done = self._cond.wait_for(lambda: want <= self._answers.keys(), self.timeout_s)
            answers = {key: self._answers.pop(key) for key in want if key in self._answers}
        if not done:
            names = ", ".join(c["command"] for c in commands)
            raise BrokerAdminError(names, f"no answer within {self.timeout_s:.0f} s "
                                          f"(publish rc {info.rc}); is the dynamic-security "
                                          "plugin loaded and this user its admin?")
        out = []
        allowed = set(allow)
        for i, command in enumerate(commands):
            response = answers[f"{tag}:{i}"][0]
            error = response.get("error")
            if error and error not in allowed:
                raise BrokerAdminError(command["command"], str(error))
            out.append(response.get("data") or {})
        return out

    def get_client(self, username: str) -> dict[str, Any] | None:
        """Return the plugin's record of a user, or None when there is none."""
        data = self.run({"command": "getClient", "username": username},
                        allow=("Client not found",))[0]
        client = data.get("client")
        return client if isinstance(client, dict) else None

    def set_role(self, rolename: str, acls: list[dict[str, Any]]) -> None:
        """Create the role, or replace its ACLs when it exists."""
        exists = self.run({"command": "getRole", "rolename": rolename},
                          allow=("Role not found",))[0].get("role")
        command = "modifyRole" if exists else "createRole"
        self.run({"command": command, "rolename": rolename, "acls": acls})

    def set_client(self, credentials: BrokerCredentials, role: str, *,
                   textname: str = "") -> None:
        """Create the user or update it: password, bound client id and its one role."""
        fields = {"username": credentials.username, "password": credentials.password,
                  "clientid": credentials.client_id, "textname": textname,
                  "roles": [{"rolename": role, "priority": 0}], "groups": []}
        if self.get_client(credentials.username) is None:
            self.run({"command": "createClient", **fields})
        else:
            self.run({"command": "modifyClient", **fields})

    def deny_by_default(self) -> None:
        """Make everything not granted by a role forbidden."""
        self.run({"command": "setDefaultACLAccess", "acls": [
            {"acltype": kind, "allow": False}
            for kind in ("publishClientSend", "publishClientReceive", "subscribe", "unsubscribe")
        ]})


def ensure_hub_identity(admin: BrokerAdmin, client_id: str, password: str, *,
                        username: str | None = None, workers: int = 1
                        ) -> list[BrokerCredentials]:
    """Create or update the hub's role and one user per ingest lane (`workers` readings lanes);
    return their credentials.

    Every lane shares `password` and the `bedwatch-hub` role; each user is bound to its lane's
    client id. Also turns the default ACL access to deny.
    """
    admin.deny_by_default()
    admin.set_role(HUB_ROLE, hub_acls())
    out = []
    for user, lane_id in hub_lane_identities(client_id, username, workers):
        _refuse_home_user(admin, user)
        credentials = BrokerCredentials(user, password, lane_id)
        admin.set_client(credentials, HUB_ROLE, textname="bedwatch hub")
        out.append(credentials)
    return out


def enrol_home(admin: BrokerAdmin, home: str) -> HomeCredentials:
    """Create a home's broker user (user and client id = home id) with a new random password.

    Enrolling again gives the home a new password (rotation): the old one stops working.
    """
    check_home_user(admin, home)
    admin.set_role(home_role(home), home_acls(home))
    credentials = HomeCredentials(username=home, password=new_password(), client_id=home,
                                  home=home)
    admin.set_client(credentials, home_role(home), textname=f"home {home}")
    return credentials


def check_home_user(admin: BrokerAdmin, home: str) -> None:
    """Raise unless `home` is a valid home id whose broker user is free or the home's own."""
    check_home(home)
    existing = admin.get_client(home)
    if existing is not None and [r.get("rolename") for r in existing.get("roles", [])] \
            != [home_role(home)]:
        raise BrokerAdminError("createClient", f"user {home!r} exists and is not home "
                                               f"{home!r}'s: choose another home id")


def revoke_home(admin: BrokerAdmin, home: str) -> bool:
    """Delete a home's user and role: it cannot connect, and a live connection is cut now.

    Return False when the home had no broker user.
    """
    check_home(home)
    existing = admin.get_client(home)
    if existing is not None and home_role(home) not in \
            [r.get("rolename") for r in existing.get("roles", [])]:
        raise BrokerAdminError("deleteClient", f"user {home!r} is not a home's user")
    # The plugin disconnects every session of a deleted user at once.
    admin.run({"command": "deleteClient", "username": home},
              {"command": "deleteRole", "rolename": home_role(home)},
              allow=("Client not found", "Role not found"))
    return existing is not None


def _refuse_home_user(admin: BrokerAdmin, user: str) -> None:
    existing = admin.get_client(user)
    if existing is not None and any(str(r.get("rolename", "")).startswith("home-")
                                    for r in existing.get("roles", [])):
        raise BrokerAdminError("createClient", f"user {user!r} belongs to a home; choose "
                                               "another mqtt.client_id for the hub")
