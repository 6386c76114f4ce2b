"""The caregiver's page, clicked through in a real headless Chromium against a running hub."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from pathlib import Path

import pytest

from bedwatch import wire
from tests.sitefixture import Site, publish_as_home

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Chromium is not installed (Debian package 'chromium'; `make test` installs it)")


def publish_event(site: Site, home: str, kind: str) -> None:
    event = wire.Event(id=uuid.uuid4().hex, seq=1, t=time.time(), device="mat", kind=kind,
                       severity=wire.DEFAULT_SEVERITY[kind], data={})
    publish_as_home(site, home, wire.events_topic(home), wire.encode(event))


def test_acknowledge_on_site_and_resolve_from_the_phone(site: Site) -> None:
    from playwright.sync_api import expect, sync_playwright

    site.start_hub()
    publish_event(site, "home-001", "fall")
    [page_msg] = site.sink.wait_for(lambda n: "/c/" in n.text, timeout=15)
    found = re.search(r"https?://\S+/c/[\w.-]+", page_msg.text)
    assert found is not None, page_msg.text
    link = found.group(0)
    [alert] = site.get("/api/alerts?state=open")
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        # A phone set to English; the person has no language of their own.
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True, locale="en-US")
        page = phone.new_page()
        page.goto(link)
        # The link offers a device login: the phone keeps the page after the link expires.
        page.get_by_role("button", name="Keep me logged in on this phone").click()
        page.wait_for_url(f"{site.api}/c")
        card = page.get_by_test_id(f"alert-{alert['id']}")
        expect(card).to_contain_text("Fall detected")
        expect(card).to_contain_text("Resident 1")
        expect(card.get_by_test_id("state")).to_have_text("open")
        page.screenshot(path=str(ARTIFACTS / "caregiver-page-open.png"), full_page=True)

        # A second alert appears without reloading the page.
        publish_event(site, "home-002", "call")
        expect(page.get_by_text("Call button pressed")).to_be_visible(timeout=10_000)

        card.get_by_role("button", name="I am taking it — acknowledge").click()
        expect(card.get_by_test_id("state")).to_have_text("acknowledged")
        card.get_by_role("button", name="I am on site").click()
        expect(card.get_by_test_id("state")).to_have_text("on site")
        card.get_by_role("button", name="Close the alert…").click()
        card.get_by_label("What was found").select_option("false_alarm")
        card.get_by_label("Note (what you found)").fill("Blanket slid onto the mat")
        page.screenshot(path=str(ARTIFACTS / "caregiver-page-resolve.png"), full_page=True)
        card.get_by_role("button", name="Close alert", exact=True).click()
        expect(card).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "caregiver-page-after.png"), full_page=True)
        browser.close()

    done = site.get(f"/api/alerts/{alert['id']}")
    assert (done["state"], done["resolution"], done["resolution_note"]) == (
        "resolved", "false_alarm", "Blanket slid onto the mat")
    assert done["acknowledged_by"] == done["on_site_by"] == done["resolved_by"] == "cg-zhang"
    actions = [e["action"] for e in reversed(site.get(f"/api/audit?alert_id={alert['id']}"))]
    assert actions[0] == "opened" and actions[-3:] == ["acknowledged", "on_site", "resolved"]
    assert (ARTIFACTS / "caregiver-page-open.png").stat().st_size > 10_000


def test_a_forged_link_shows_nothing(site: Site) -> None:
    import urllib.error
    import urllib.request

    site.start_hub()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{site.api}/c/WzAsImNnLXpoYW5nIiw5OTk5OTk5OTk5XQ.AAAA", timeout=5)
    assert info.value.code == 403
    assert info.value.headers["content-type"].startswith("text/html")  # a page, not JSON
    text = info.value.read().decode()
    assert "此链接无效" in text and "This link is not valid" in text
