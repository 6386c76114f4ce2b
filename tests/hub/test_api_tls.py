"""The API over HTTPS with a certificate of the organisation's CA: the keys of hub.toml, the
server the hub starts from them, and clients that do and do not trust that CA."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.config import ApiSection, ConfigError, load_config
from hub.service import Hub
from rig.pki import Issued, TestCA
from tests.hub.conftest import RecordingNotifier, site_config


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "pki", name="Qingshan Care throwaway CA")


@pytest.fixture
def server_cert(ca: TestCA) -> Issued:
    return ca.issue_server(["127.0.0.1", "localhost"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _write_config(folder: Path, api: str) -> Path:
    path = folder / "hub.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{folder / "hub.sqlite"}"\n'
                    f'[api]\nsecret = "{"x" * 32}"\n{api}\n', encoding="utf-8")
    return path


def test_the_tls_keys_go_together_name_existing_files_and_need_an_https_public_url(
        tmp_path: Path, server_cert: Issued) -> None:
    cert, key = server_cert.cert_file, server_cert.key_file
    ok = _write_config(tmp_path, f'public_url = "https://hub.test"\n'
                                 f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"')
    assert load_config(ok).api.tls_cert_file == cert
    cases = {
        f'public_url = "https://hub.test"\ntls_cert_file = "{cert}"':
            "set both tls_cert_file and tls_key_file",
        f'public_url = "https://hub.test"\ntls_cert_file = "{cert}"\n'
        f'tls_key_file = "{tmp_path / "missing.key"}"': "api.tls_key_file: Value error, no such",
        f'public_url = "http://hub.test"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"':
            "public_url must be https://",
    }
    for api, expected in cases.items():
        with pytest.raises(ConfigError, match=expected) as error:
            load_config(_write_config(tmp_path, api))
        assert str(tmp_path / "hub.toml") in str(error.value)
    # Relative paths are relative to the config file, wherever the hub starts from.
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "api.pem").write_bytes(cert.read_bytes())
    (folder / "api.key").write_bytes(key.read_bytes())
    relative = _write_config(folder, 'public_url = "https://hub.test"\n'
                                     'tls_cert_file = "api.pem"\ntls_key_file = "api.key"')
    assert load_config(relative).api.tls_cert_file == folder / "api.pem"
    (folder / "api.key").unlink()
    with pytest.raises(ConfigError, match=r"api\.tls_key_file: no such file") as error:
        load_config(relative)
    assert str(folder / "hub.toml") in str(error.value)
    # A TLS proxy in front of a plain API: an https public URL is fine without the keys.
    assert ApiSection(public_url="https://hub.test").tls_cert_file is None


@pytest.fixture
async def https_api(tmp_path: Path, server_cert: Issued) -> AsyncIterator[str]:
    """Run a whole hub (no broker, no InfluxDB) whose API has the test CA's certificate."""
    port = _free_port()
    config = site_config(
        tmp_path, api={"secret": "x" * 32, "public_url": f"https://127.0.0.1:{port}",
                       "host": "127.0.0.1", "port": port,
                       "tls_cert_file": str(server_cert.cert_file),
                       "tls_key_file": str(server_cert.key_file)},
        mqtt={"host": "127.0.0.1", "port": _free_port()},
        influx={"url": f"http://127.0.0.1:{_free_port()}"})
    stop = asyncio.Event()
    task = asyncio.create_task(Hub(config, notifier=RecordingNotifier()).run(stop))
    try:
        for _ in range(400):
            assert not task.done(), task.exception() if task.done() else ""
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.025)
        else:
            pytest.fail("the hub's API did not start listening")
        yield f"https://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_a_client_trusting_the_organisations_ca_gets_healthz_over_https(
        https_api: str, ca: TestCA) -> None:
    trusting = ssl.create_default_context(cafile=str(ca.cert_file))
    async with httpx.AsyncClient(verify=trusting) as client:
        response = await client.get(f"{https_api}/healthz")
    # No broker in this test: the hub says so, over a verified connection.
    assert response.status_code == 503 and response.json()["database"] is True


async def test_a_client_without_the_ca_refuses_the_certificate(https_api: str) -> None:
    async with httpx.AsyncClient() as client:  # the public roots only
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"{https_api}/healthz")


async def test_plain_http_to_the_https_port_gets_no_answer(https_api: str) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.HTTPError):
            await client.get(https_api.replace("https://", "http://") + "/healthz")


def test_the_api_listens_on_loopback_and_plain_http_by_default() -> None:
    api = ApiSection()
    assert api.host == "127.0.0.1" and api.tls_cert_file is None and api.tls_key_file is None
