"""The caregiver's phone page in headless Chromium, at phone and desk size, in Chinese and in
English: an open, an escalated and an acknowledged alert and an expired link, checked for the
facts a caregiver needs, screenshotted (var/screenshots/), with no sideways scrolling at
360 px, and an acknowledgement tapped offline that goes through once the phone is back."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub import tokens
from rig.stack import InfluxDB
from tests.browser.phonehub import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESK,
    NARROW,
    PHONE,
    influx_with_vitals,
    screenshots_dir,
    serve,
)
from tests.hub.conftest import FakeClock
from tests.hub.phonesite import LAT, LON, advance, alert_row, open_alert, station

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Chromium is not installed (Debian package 'chromium'; `make test` installs it)")


@dataclass
class Scene:
    base: str
    context: Any
    open: int  # on the floor, just paged
    escalated: int  # a call nobody took: the chain has reached the supervisor
    taken: int  # acknowledged by a colleague

    def link(self, person: str) -> str:
        return self.base + self.context.engine.desk_link(person).split("http://hub.test")[1]

    def expired_ack_link(self, person: str) -> str:
        grant = tokens.AckGrant(self.open, person, time.time() - 60)
        return f"{self.base}/ack/{tokens.sign(self.context.secret, grant)}"


@pytest.fixture
def scene(tmp_path: Path, influxdb: InfluxDB) -> Iterator[Scene]:
    influx = influx_with_vitals(influxdb, f"phone_{uuid.uuid4().hex[:8]}", "home-1",
                                heart=74, breath=16, bp=(148, 92))
    start = time.time() - 400
    context = station(tmp_path, FakeClock(start), influx=influx)
    escalated = open_alert(context, "home-1", "call", {"button": 100})
    advance(context, 220)
    opened = open_alert(context, "home-1", "long_lie",
                        {"since": context.clock.now() - 240, "source": "mat"})
    taken = open_alert(context, "home-1", "tachycardia", {"heart_rate_bpm": 132.0})
    context.engine.transition(taken, "acknowledged", "cg-li")
    advance(context, 170)
    with serve(context) as base:
        yield Scene(base, context, opened, escalated, taken)


# What each language must show (the catalogue's words, not the test's guesses).
FACTS = {
    "zh_CN": {"what": "长时间倒地未起", "evidence": "在地上已 6 分钟", "who": "王桂荣",
              "escalation": "已升级到第 3 级：站长", "reminders": "已提醒",
              "taken": "李护理员 已于", "left": r"还剩 \d+:\d\d", "overdue": r"已超时 \d+:\d\d",
              "ack": "我来处理 — 确认", "on_site": "我已到场", "queued": "已排队",
              "sent": r"已于 \d\d:\d\d 发送", "expired": "此链接已过期", "renew": "给我发送新链接",
              "html": "zh-CN"},
    "en": {"what": "Lying on the floor for a long time", "evidence": "On the floor for 6 min",
           "who": "王桂荣", "escalation": "Escalated to level 3: station supervisor",
           "reminders": "Reminders sent", "taken": "Taken by 李护理员 at",
           "left": r"\d+:\d\d left", "overdue": r"\d+:\d\d overdue",
           "ack": "I am taking it — acknowledge", "on_site": "I am on site",
           "queued": "Queued", "sent": r"Sent at \d\d:\d\d", "expired": "This link has expired",
           "renew": "Send me a fresh link", "html": "en"},
}


def _browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate(
        "document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"))


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_phone_page_shows_what_a_caregiver_needs(scene: Scene, lang: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    facts, shots = FACTS[lang], screenshots_dir()
    with sync_playwright() as p:
        browser = _browser(p)
        for size_name, size in (("phone", PHONE), ("desk", DESK)):
            context = browser.new_context(viewport=size, is_mobile=size is PHONE,
                                          has_touch=size is PHONE, locale="zh-CN")
            page = context.new_page()
            page.goto(scene.link("cg-zhang") + f"?lang={lang}")
            assert page.locator("html").get_attribute("lang") == facts["html"]
            opened = page.get_by_test_id(f"alert-{scene.open}")
            expect(opened.get_by_test_id("what")).to_have_text(facts["what"])
            expect(opened.get_by_test_id("evidence")).to_have_text(facts["evidence"])
            expect(opened.get_by_test_id("who")).to_contain_text(facts["who"])
            expect(opened.get_by_test_id("who")).to_contain_text("青霉素")  # allergies
            expect(opened.get_by_test_id("where")).to_contain_text("1234#")  # the door
            assert opened.get_by_test_id("map").get_attribute("href").startswith(
                f"https://uri.amap.com/marker?position={LON}%2C{LAT}")
            tels = opened.locator('a[href^="tel:"]')
            assert tels.evaluate_all("links => links.map(a => a.getAttribute('href'))") == [
                "tel:13800271234", "tel:02786881234", "tel:+8613911112222", "tel:02786000001"]
            expect(opened.get_by_test_id("sla-arrival")).to_have_text(re.compile(facts["left"]))
            expect(opened.get_by_test_id("sla-ack")).to_have_text(re.compile(facts["overdue"]))
            expect(opened.get_by_test_id("ack")).to_have_text(facts["ack"])
            expect(opened.get_by_test_id("vitals")).to_contain_text("74")
            expect(opened.get_by_test_id("vitals")).to_contain_text("148/92")

            escalated = page.get_by_test_id(f"alert-{scene.escalated}")
            expect(escalated.get_by_test_id("escalation")).to_contain_text(facts["escalation"])
            expect(escalated.get_by_test_id("escalation")).to_contain_text(facts["reminders"])
            expect(escalated.get_by_test_id("others")).to_contain_text("李护理员")

            taken = page.get_by_test_id(f"alert-{scene.taken}")
            expect(taken.get_by_test_id("taken")).to_contain_text(facts["taken"])
            expect(taken.get_by_test_id("ack")).to_have_count(0)  # never offered again
            expect(taken.get_by_test_id("on-site")).to_have_text(facts["on_site"])
            assert "cg-li" not in page.inner_text("body")  # people by name, never by id

            page.wait_for_timeout(300)  # the fonts settle
            page.screenshot(path=str(shots / f"phone-page-{size_name}-{lang}.png"),
                            full_page=True)
            for name, card in (("open", opened), ("escalated", escalated),
                               ("acknowledged", taken)):
                card.screenshot(path=str(shots / f"alert-{name}-{size_name}-{lang}.png"))

            page.goto(scene.expired_ack_link("cg-zhang") + f"?lang={lang}")
            expect(page.get_by_test_id("reason")).to_contain_text(facts["expired"])
            expect(page.get_by_test_id("renew")).to_contain_text(facts["renew"])
            expect(page.get_by_test_id("alert-state")).to_contain_text(f"#{scene.open}")
            page.screenshot(path=str(shots / f"alert-expired-link-{size_name}-{lang}.png"),
                            full_page=True)
            context.close()
        browser.close()
    assert (shots / f"alert-open-phone-{lang}.png").stat().st_size > 10_000


def test_no_sideways_scrolling_at_360_px_and_dark_at_night(scene: Scene) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        context = browser.new_context(viewport=NARROW, is_mobile=True, has_touch=True)
        page = context.new_page()
        for lang in ("zh_CN", "en"):
            page.goto(scene.link("cg-zhang") + f"?lang={lang}")
            expect(page.get_by_test_id(f"alert-{scene.open}")).to_be_visible()
            page.get_by_test_id(f"alert-{scene.open}").get_by_test_id("resolve").click()
            assert _no_sideways_scroll(page), lang
            page.goto(scene.expired_ack_link("cg-zhang") + f"?lang={lang}")
            assert _no_sideways_scroll(page), f"expired link, {lang}"
        # At night the phone asks for dark pages: black, not a white glare.
        night = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                    color_scheme="dark")
        page = night.new_page()
        page.goto(scene.link("cg-zhang") + "?lang=zh_CN")
        expect(page.get_by_test_id(f"alert-{scene.open}")).to_be_visible()
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == \
            "rgb(0, 0, 0)"
        page.screenshot(path=str(screenshots_dir() / "phone-page-night-zh_CN.png"))
        browser.close()


def test_an_acknowledgement_tapped_offline_is_queued_then_sent(scene: Scene) -> None:
    from playwright.sync_api import expect, sync_playwright

    facts = FACTS["zh_CN"]
    with sync_playwright() as p:
        browser = _browser(p)
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                      locale="zh-CN")
        page = context.new_page()
        page.goto(scene.link("cg-zhang"))
        card = page.get_by_test_id(f"alert-{scene.open}")
        expect(card.get_by_test_id("ack")).to_be_visible()
        context.set_offline(True)
        card.get_by_test_id("ack").click()
        status = card.get_by_test_id(f"queue-{scene.open}")
        expect(status).to_contain_text(facts["queued"])
        expect(card.get_by_test_id("ack")).to_have_count(0)  # not offered twice meanwhile
        page.wait_for_timeout(1500)
        assert alert_row(scene.context, scene.open).state == "open"  # nothing went out
        context.set_offline(False)
        expect(status).to_contain_text(re.compile(facts["sent"]), timeout=15_000)
        expect(card.get_by_test_id("state")).to_have_text("已确认")
        page.screenshot(path=str(screenshots_dir() / "phone-page-ack-sent-zh_CN.png"),
                        full_page=True)
        browser.close()
    row = alert_row(scene.context, scene.open)
    assert (row.state, row.acknowledged_by) == ("acknowledged", "cg-zhang")
