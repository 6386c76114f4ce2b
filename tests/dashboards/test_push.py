"""`bedwatch dashboards push` against a recorded Grafana HTTP API (respx): the folder is made
once, dashboards are created, a second push changes nothing, a changed dashboard is updated
in place by its uid, and a refused token is reported clearly.

grafana-client speaks through niquests; the test mounts an adapter on its session that hands
each request to an httpx client, whose transport respx records and answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import niquests
import pytest
import respx
from grafana_client import GrafanaApi
from niquests.adapters import BaseAdapter
from niquests.structures import CaseInsensitiveDict
from typer.testing import CliRunner

from bedwatch.cli import app
from dashboards import push as push_module
from dashboards.build import DASHBOARDS
from dashboards.influxql import DATASOURCE_UID
from dashboards.push import PushError, dashboard_uid, folder_uid, push

URL = "http://grafana.test"
TOKEN = "glsa_test_token"


class HttpxAdapter(BaseAdapter):
    """Send niquests' requests through an httpx client (the transport under respx)."""

    def __init__(self, client: httpx.Client) -> None:
        super().__init__()
        self.client = client

    def send(self, request: Any, *args: Any, **kwargs: Any) -> niquests.Response:
        answer = self.client.request(request.method, request.url,
                                     headers=dict(request.headers), content=request.body)
        response = niquests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.content
        response._content_consumed = True
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        response.elapsed = timedelta(0)
        response.raw = SimpleNamespace(_original_response=None)  # no cookies to take
        return response

    def close(self) -> None:
        self.client.close()

    def gather(self, *responses: Any, max_fetch: int | None = None) -> None:
        return None


class FakeGrafana:
    """The Grafana HTTP API as recorded: folders, dashboards by uid, data sources."""

    def __init__(self, router: respx.Router, token: str = TOKEN) -> None:
        self.token = token
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.saves: list[dict[str, Any]] = []
        self.datasources = {DATASOURCE_UID}
        router.route(host="grafana.test").mock(side_effect=self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"message": "invalid API key"})
        path, method = request.url.path, request.method
        if path.startswith("/api/folders/") and method == "GET":
            uid = path.rsplit("/", 1)[1]
            if uid not in self.folders:
                return httpx.Response(404, json={"message": "folder not found"})
            return httpx.Response(200, json=self.folders[uid])
        if path == "/api/folders" and method == "POST":
            body = json.loads(request.content)
            if body["uid"] in self.folders:
                return httpx.Response(409, json={"message": "a folder with that uid exists"})
            self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": 7}
            return httpx.Response(200, json=self.folders[body["uid"]])
        if path.startswith("/api/datasources/uid/"):
            uid = path.rsplit("/", 1)[1]
            if uid not in self.datasources:
                return httpx.Response(404, json={"message": "data source not found"})
            return httpx.Response(200, json={"uid": uid, "type": "influxdb"})
        if path.startswith("/api/dashboards/uid/") and method == "GET":
            uid = path.rsplit("/", 1)[1]
            if uid not in self.dashboards:
                return httpx.Response(404, json={"message": "Dashboard not found"})
            return httpx.Response(200, json=self.dashboards[uid])
        if path == "/api/dashboards/db" and method == "POST":
            body = json.loads(request.content)
            self.saves.append(body)
            model = dict(body["dashboard"])
            stored = self.dashboards.get(model["uid"])
            if stored is not None and not body.get("overwrite"):
                return httpx.Response(412, json={"message": "version-mismatched"})
            version = 1 if stored is None else stored["dashboard"]["version"] + 1
            model.update({"id": 40 + len(self.dashboards), "version": version})
            if stored is not None:
                model["id"] = stored["dashboard"]["id"]  # updated in place
            self.dashboards[model["uid"]] = {"dashboard": model,
                                             "meta": {"folderUid": body["folderUid"]}}
            return httpx.Response(200, json={"uid": model["uid"], "version": version,
                                             "status": "success"})
        return httpx.Response(404, json={"message": f"no route {method} {path}"})


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, GrafanaApi]]:
    with respx.mock(assert_all_called=False) as router:
        fake = FakeGrafana(router)
        api = GrafanaApi.from_url(URL, credential=TOKEN)
        api.client.s.mount("http://", HttpxAdapter(httpx.Client()))
        yield fake, api


def test_first_push_creates_folder_and_dashboards(grafana: tuple[FakeGrafana, GrafanaApi]
                                                  ) -> None:
    fake, api = grafana
    report = push(URL, TOKEN, api=api)
    assert report.folder_created and list(fake.folders) == ["bedwatch"]
    assert report.dashboards == {uid: "created" for uid in DASHBOARDS}
    assert report.warnings == []
    for save in fake.saves:
        assert save["folderUid"] == "bedwatch" and save["overwrite"] is True
        assert save["dashboard"]["id"] is None
    assert set(fake.dashboards) == set(DASHBOARDS)


def test_second_push_changes_nothing_and_a_change_updates_in_place(
        grafana: tuple[FakeGrafana, GrafanaApi], monkeypatch: pytest.MonkeyPatch) -> None:
    fake, api = grafana
    push(URL, TOKEN, api=api)
    ids = {uid: held["dashboard"]["id"] for uid, held in fake.dashboards.items()}
    saves = len(fake.saves)
    again = push(URL, TOKEN, api=api)
    assert not again.folder_created and len(fake.folders) == 1
    assert again.dashboards == {uid: "unchanged" for uid in DASHBOARDS}
    assert len(fake.saves) == saves  # no new versions for nothing
    # A new release of the dashboards: only the changed one is saved, under the same uid.
    original = push_module.render

    def changed(uid: str) -> dict[str, Any]:
        model = original(uid)
        if uid == "bedwatch-fleet":
            model["refresh"] = "30s"
        return model

    monkeypatch.setattr(push_module, "render", changed)
    third = push(URL, TOKEN, api=api)
    assert third.dashboards["bedwatch-fleet"] == "updated"
    assert [d for d, outcome in third.dashboards.items() if outcome != "unchanged"] == \
        ["bedwatch-fleet"]
    held = fake.dashboards["bedwatch-fleet"]["dashboard"]
    assert held["refresh"] == "30s" and held["version"] == 2
    assert held["id"] == ids["bedwatch-fleet"] and len(fake.dashboards) == len(DASHBOARDS)


def test_each_organisation_gets_its_own_folder_and_uids(
        grafana: tuple[FakeGrafana, GrafanaApi]) -> None:
    fake, api = grafana
    push(URL, TOKEN, organisation="bedwatch", api=api)
    report = push(URL, TOKEN, organisation="长青养老服务中心", api=api)
    folder = folder_uid("长青养老服务中心")
    assert report.folder_created and set(fake.folders) == {"bedwatch", folder}
    assert fake.folders[folder]["title"] == "长青养老服务中心"
    assert len(folder) <= 40 and folder.isascii()
    for uid in DASHBOARDS:
        theirs = dashboard_uid(uid, "长青养老服务中心")
        assert len(theirs) <= 40 and theirs != uid
        assert fake.dashboards[theirs]["meta"]["folderUid"] == folder
        assert fake.dashboards[uid]["meta"]["folderUid"] == "bedwatch"


def test_missing_data_source_is_a_warning(grafana: tuple[FakeGrafana, GrafanaApi]) -> None:
    fake, api = grafana
    fake.datasources.clear()
    report = push(URL, TOKEN, api=api)
    assert len(report.warnings) == 1 and DATASOURCE_UID in report.warnings[0]
    assert report.dashboards == {uid: "created" for uid in DASHBOARDS}


def test_refused_token_is_reported_clearly(grafana: tuple[FakeGrafana, GrafanaApi]) -> None:
    fake, api = grafana
    fake.token = "another"
    with pytest.raises(PushError, match=r"refused the token \(401\).*--token"):
        push(URL, TOKEN, api=api)
    assert fake.folders == {} and fake.saves == []


def test_cli_push_reports_a_refused_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with respx.mock(assert_all_called=False) as router:
        fake = FakeGrafana(router, token="another")
        made = GrafanaApi.from_url(URL, credential=TOKEN)
        made.client.s.mount("http://", HttpxAdapter(httpx.Client()))
        monkeypatch.setattr(push_module.GrafanaApi, "from_url",
                            classmethod(lambda cls, url, credential=None: made))
        result = CliRunner().invoke(app, ["dashboards", "push", "--url", URL,
                                          "--token", TOKEN])
    assert result.exit_code == 1
    assert "refused the token (401)" in result.output
    assert "推送失败" in result.output  # the operator's language first
    assert fake.saves == []


def test_cli_push_without_a_token_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["dashboards", "push", "--url", URL])
    assert result.exit_code == 2 and "GRAFANA_TOKEN" in result.output
