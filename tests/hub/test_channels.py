"""Channel URLs: apprise must be able to build a notifier from every `notify` URL, checked
without sending; a URL that cannot deliver is refused where people are written (the API, the
command line, a registry file), naming the person and the URL with its secrets masked; every
URL of the samples passes."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from hub.channels import MAX_URL_LENGTH, check_channel, mask
from hub.config import ConfigError, load_registry
from hub.db import Caregiver, make_engine, make_sessionmaker
from hub.registry import update_person
from hub.registry.kinds import add
from hub.registry.models import PersonIn
from hub.registry.service import RegistryError
from hub.web import create_app
from hub.web.auth import Principal, get_principal
from rig.sink import NotificationSink
from tests.hub.conftest import site_config
from tests.hub.webapp import hubless_context

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "s3cr3t0token0abc"

# The forms of the channels used in China (obviously fake tokens), and the sinks of the tests.
VALID = [
    "wecombot://00000000-fake-0000-0000-webhook0key00",
    "dingtalk://fake0access0token/",
    "dingtalk://SECfake0secret@fake0access0token/13800000000",
    "feishu://00000000-fake-0000-0000-webhook0token",
    "smseagles://fake0api0token@sms-gateway.example.org/13800000001",
    "jsons://sms-gateway.example.org/send?:phone=13800000002",
    "ntfys://ntfy.example.org/bedwatch-town",
    "ntfy://bedwatch-town",
    "mailtos://doctor:fake-password@clinic.example.org",
    "json://127.0.0.1:8080/cg-a",
    "json://a/",
]


@pytest.mark.parametrize("url", VALID)
def test_the_forms_in_use_can_deliver(url: str) -> None:
    assert check_channel(url) is None


@pytest.mark.parametrize(("url", "reason"), [
    ("wecom://corpid/corpsecret/agentid", "a WeCom group bot is wecombot://<webhook key>"),
    ("ntfyy://x", "unknown channel type 'ntfyy://'; did you mean 'ntfy://'?"),
    ("http//x", "not a URL"),
    ("", "empty"),
    ("   ", "empty"),
    ("call Zhang Min on 138 0000 0000", "spaces"),
    ("zhangmin", "not a URL"),
    ("json://" + "a" * MAX_URL_LENGTH, f"longer than {MAX_URL_LENGTH} characters"),
    ("sms://13800000000", "an SMS gateway is smseagles://"),
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", "unknown channel type 'https://'"),
    ("wecombot://", "not a valid URL for WeCom Bot"),
    ("dingtalk://not-a-token!/", "a DingTalk robot is dingtalk://"),
    ("ntfys://ntfy.example.org/", "names no topic"),
    ("json://a/,json://b/", "more than one URL"),
    ("json://a/\njson://b/", "control"),
    ("json://\udcff/", "unreadable"),
    (None, "not text"),
])
def test_what_cannot_deliver_is_told_in_plain_words(url: Any, reason: str) -> None:
    found = check_channel(url)
    assert found is not None and reason in found


def test_checking_sends_nothing_and_logs_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    with NotificationSink() as sink:
        assert check_channel(sink.url("cg-a")) is None
        assert sink.notifications == []
    with caplog.at_level(logging.DEBUG):
        assert check_channel(f"wecom://{SECRET}/corpsecret/agentid") is not None
        assert check_channel(f"nosuchscheme://user:{SECRET}@host/") is not None
    assert SECRET not in caplog.text


@pytest.mark.parametrize(("url", "shown"), [
    (f"json://user:{SECRET}@127.0.0.1:8080/cg-a?token={SECRET}", "json://127.0.0.1:8080/..."),
    (f"wecombot://{SECRET}", "wecombot://..."),
    (f"wecom://corpid/{SECRET}/agentid", "wecom://..."),
    (f"dingtalk://{SECRET}@{SECRET}/", "dingtalk://..."),
    (f"ntfys://ntfy.example.org/{SECRET}", "ntfys://ntfy.example.org/..."),
    ("json://localhost", "json://localhost"),
    (f"user:{SECRET}@host", "(not a URL)"),
])
def test_a_url_in_an_error_shows_its_type_and_host_only(url: str, shown: str) -> None:
    assert mask(url) == shown and SECRET not in mask(url)


# -- refused where people are written ------------------------------------------------------


def test_the_model_names_the_person_and_the_masked_url() -> None:
    with pytest.raises(ValidationError) as info:
        PersonIn(id="cg-zhang", name="Zhang Min", role="oncall", site="town",
                 notify=["json://a/", f"wecom://corpid/{SECRET}/agentid"])
    [error] = info.value.errors()
    assert error["loc"] == ("notify",)
    assert error["msg"].startswith("person 'cg-zhang' (Zhang Min): notify[1] 'wecom://...' "
                                   "cannot deliver: ")
    assert SECRET not in error["msg"]


def _admin_client(tmp_path: Path) -> TestClient:
    app = create_app(hubless_context(site_config(tmp_path)))
    app.dependency_overrides[get_principal] = lambda: Principal(id="u-admin", role="admin")
    return TestClient(app)


def test_the_api_refuses_a_person_whose_channel_cannot_deliver(tmp_path: Path) -> None:
    client = _admin_client(tmp_path)
    made = client.post("/api/registry/people", json={
        "id": "cg-zhao", "name": "Zhao Lei", "role": "oncall", "site": "town",
        "notify": [f"wecom://corpid/{SECRET}/agentid"]})
    assert made.status_code == 422
    [problem] = made.json()["detail"]
    assert problem["loc"] == ["body", "notify"]
    assert "person 'cg-zhao' (Zhao Lei): notify[0] 'wecom://...' cannot deliver" in \
        problem["msg"] and SECRET not in problem["msg"]
    assert SECRET not in made.text  # the refused body is not echoed back
    changed = client.patch("/api/registry/people/cg-a", json={"notify": ["ntfyy://x"]})
    assert changed.status_code == 422
    assert "person 'cg-a' (A): notify[0] 'ntfyy://...' cannot deliver: unknown channel type" \
        in changed.json()["detail"]
    assert client.patch("/api/registry/people/cg-a",
                        json={"notify": ["wecombot://fake0key"]}).status_code == 200


def test_the_command_line_refuses_family_doctors_desk_and_technicians_alike(
        tmp_path: Path) -> None:
    config = site_config(tmp_path)
    engine = make_engine(config.database.url)
    with make_sessionmaker(engine)() as session:
        for role, place in [("family", {"home": "home-1"}), ("doctor", {"home": "home-1"}),
                            ("desk", {}), ("technician", {})]:
            with pytest.raises(RegistryError, match=rf"person 'p-{role}' \(P\): notify\[0\]"):
                add(session, "person", {"id": f"p-{role}", "name": "P", "role": role,
                                        "notify": ["x"], **place})
        with pytest.raises(RegistryError, match="notify: person 'cg-b' \\(B\\)"):
            update_person(session, "cg-b", {"notify": ["dingtalk://"]})
        assert session.scalars(select(Caregiver.id).where(Caregiver.id.like("p-%"))).all() == []
    engine.dispose()


def _registry_file(tmp_path: Path, people: str) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text('[[sites]]\nid = "town"\nname = "Town"\n' + people, encoding="utf-8")
    return path


@pytest.mark.parametrize(("people", "key", "who"), [
    ('[[caregivers]]\nid = "cg-zhang"\nname = "Zhang Min"\nsite = "town"\n'
     'notify = ["json://a/", "wecom://corpid/corpsecret/agentid"]\n',
     "caregivers[0].notify", "person 'cg-zhang' (Zhang Min): notify[1] 'wecom://...'"),
    ('[[desk]]\nid = "desk-li"\nname = "Li Na"\nnotify = ["ntfyy://x"]\n',
     "desk[0].notify", "person 'desk-li' (Li Na): notify[0] 'ntfyy://...'"),
    ('[[technicians]]\nid = "tech-wu"\nname = "Wu Gang"\nnotify = ["http//x"]\n',
     "technicians[0].notify", "person 'tech-wu' (Wu Gang): notify[0] '(not a URL)'"),
    ('[[homes]]\nid = "home-1"\nsite = "town"\n[homes.resident]\nname = "Wang Guirong"\n'
     'doctor_notify = ["mailto://x"]\n[[homes.resident.family]]\nname = "Wang Fang"\n'
     'notify = ["json://son/"]\n',
     "homes[0].resident.doctor_notify", "the doctor of Wang Guirong: doctor_notify[0]"),
    ('[[homes]]\nid = "home-1"\nsite = "town"\n[homes.resident]\nname = "Wang Guirong"\n'
     '[[homes.resident.family]]\nname = "Wang Fang"\nnotify = ["wechat://x"]\n',
     "homes[0].resident.family[0].notify", "family contact (Wang Fang): notify[0]"),
])
def test_a_registry_file_names_the_key_and_the_person(tmp_path: Path, people: str, key: str,
                                                       who: str) -> None:
    path = _registry_file(tmp_path, people)
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    assert f"{path}: {key}: {who}" in str(info.value) and "cannot deliver" in str(info.value)


# -- the samples ---------------------------------------------------------------------------


def _channel_urls(node: Any, key: str = "") -> list[tuple[str, str]]:
    """Return (key, URL) of every `notify` and `doctor_notify` entry in a TOML tree."""
    if isinstance(node, dict):
        return [found for k, v in node.items() for found in _channel_urls(v, k)]
    if isinstance(node, list):
        if key in ("notify", "doctor_notify") and all(isinstance(v, str) for v in node):
            return [(key, v) for v in node]
        return [found for v in node for found in _channel_urls(v, key)]
    return []


def test_every_channel_url_of_the_samples_can_deliver() -> None:
    urls = [(path.name, key, url) for path in sorted(EXAMPLES.rglob("*.toml"))
            for key, url in _channel_urls(tomllib.loads(path.read_text(encoding="utf-8")))]
    assert len(urls) >= 8
    assert [(name, key, url, check_channel(url)) for name, key, url in urls
            if check_channel(url) is not None] == []
    schemes = {url.split("://")[0] for _, _, url in urls}
    assert {"wecombot", "dingtalk", "feishu", "smseagles", "ntfys"} <= schemes
