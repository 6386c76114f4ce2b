"""Who may connect to the rig's Mosquitto: its dynamic-security file, admin and identities.

Mixed into `rig.stack.Mosquitto`, whose users are made the way production makes them
(`hub.broker`), plus one test-only publisher.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bedwatch.configfile import write_private
from bedwatch.wire import TOPIC_ROOT
from hub.broker import (
    BrokerAdmin,
    BrokerCredentials,
    HomeCredentials,
    acl,
    enrol_home,
    ensure_hub_identity,
    new_password,
    revoke_home,
)


def init_security(ctrl: str, dynsec_path: Path, password_file: Path, admin_username: str,
                  admin_client_id: str) -> None:
    """Write the plugin's first config with an admin user, once; later starts reuse it.

    The admin is bound to `admin_client_id` like every other user, and the default access of
    every ACL type is deny. The admin's random password goes to `password_file` (0600).
    `ctrl` is the path of `mosquitto_ctrl`.
    """
    if dynsec_path.exists():
        return
    password = new_password()
    # The password is on the command line for an instant: this is a throwaway test broker.
    result = subprocess.run([ctrl, "dynsec", "init", str(dynsec_path),
                             admin_username, password],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0 or not dynsec_path.exists():
        raise RuntimeError(f"mosquitto_ctrl dynsec init failed: {result.stdout}{result.stderr}")
    doc = json.loads(dynsec_path.read_text())
    for client in doc["clients"]:
        if client["username"] == admin_username:
            # Bound like every user, so that the admin cannot be used to take another id.
            client["clientid"] = admin_client_id
    doc["defaultACLAccess"] = {kind: False for kind in (
        "publishClientSend", "publishClientReceive", "subscribe", "unsubscribe")}
    dynsec_path.write_text(json.dumps(doc, indent=1))
    dynsec_path.chmod(0o600)
    write_private(password_file, password + "\n")


class BrokerIdentities:
    """Identities on a running broker at `host:port`, administered with `admin_password_file`."""

    host: str
    port: int
    admin_password_file: Path
    admin_username = "admin"
    admin_client_id = "bedwatch-admin"
    # Test-only: may publish on every home's topics, for messages no home could send.
    rig_username = "bedwatch-rig-test-publisher"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._homes: dict[str, HomeCredentials] = {}
        self._identities: dict[str, BrokerCredentials] = {}

    @property
    def admin(self) -> BrokerCredentials:
        """The plugin admin's credentials."""
        return BrokerCredentials(self.admin_username,
                                 self.admin_password_file.read_text().strip(),
                                 self.admin_client_id)

    def admin_session(self) -> BrokerAdmin:
        """Return an admin session (use it with `with`)."""
        admin = self.admin
        return BrokerAdmin(self.host, self.port, admin.username, admin.password,
                           client_id=admin.client_id)

    def hub_credentials(self, client_id: str = "bedwatch-hub") -> BrokerCredentials:
        """Create the hub's identity for `client_id` (once); return the control lane's.

        The readings lane's user and client id are these plus `-readings`, same password.
        """
        if client_id not in self._identities:
            with self.admin_session() as admin:
                lanes = ensure_hub_identity(admin, client_id, new_password())
            self._identities[client_id] = lanes[0]
        return self._identities[client_id]

    def enrol(self, home: str) -> HomeCredentials:
        """Enrol a home (or give it a new password); return its credentials."""
        with self.admin_session() as admin:
            credentials = enrol_home(admin, home)
        self._homes[home] = credentials
        return credentials

    def home_credentials(self, home: str) -> HomeCredentials:
        """Return the home's credentials, enrolling it on first use."""
        return self._homes.get(home) or self.enrol(home)

    def revoke(self, home: str) -> bool:
        """Revoke a home: its user is deleted and its connection cut at once."""
        self._homes.pop(home, None)
        with self.admin_session() as admin:
            return revoke_home(admin, home)

    def rig_credentials(self) -> BrokerCredentials:
        """Test-only: a user that may publish on every home's topics (hostile-message tests)."""
        name = self.rig_username
        if name not in self._identities:
            credentials = BrokerCredentials(name, new_password(), name)
            with self.admin_session() as admin:
                admin.set_role(name, [acl("publishClientSend", f"{TOPIC_ROOT}/#")])
                admin.set_client(credentials, name, textname="test rig only")
            self._identities[name] = credentials
        return self._identities[name]

