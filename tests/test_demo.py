"""`bedwatch demo` tells the truth: it presses only once the home is online at the hub, so its
first call is paged in every run; it times pages against their cause and says so in Chinese
and English."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from rig.demo import Demo, page_reason

pytestmark = pytest.mark.e2e


def test_the_demo_s_first_call_is_paged_and_acknowledged(tmp_path: Path) -> None:
    out = io.StringIO()
    demo = Demo(homes=1, press_every=30.0, duration=12.0, workdir=tmp_path,
                console=Console(file=out, width=400, color_system=None))
    assert demo.run() == 0, out.getvalue()
    text = out.getvalue()
    assert "home-001" in demo.online, text
    first = demo.presses[0]
    assert first.home == "home-001" and first.alert_id is not None, text
    [page] = [p for p in demo.pages if p.alert_id == first.alert_id and p.reason == "alert"]
    assert page.to == "cg-zhang" and 0 < page.delay_s < 10, text
    assert first.alert_id in demo.acknowledged
    # Each line in Chinese, then English: the online home, the call, the alert, the page, the ack.
    for zh, en in [("家庭网关已在中心上线", "its agent is online at the hub"),
                   ("呼叫：王桂荣 Wang Guirong 在 home-001 按下了呼叫按钮",
                    "CALL 王桂荣 Wang Guirong pressed the call button in home-001"),
                   (f"告警 #{first.alert_id}：home-001 呼叫按钮被按下（紧急）",
                    f"ALERT #{first.alert_id}: Call button pressed in home-001 (URGENT)"),
                   (f"通知 #{first.alert_id} 发给 cg-zhang：按下后",
                    f"PAGE #{first.alert_id} to cg-zhang:"),
                   (f"确认 #{first.alert_id}：cg-zhang 通过通知中的链接确认（成功）",
                    "acknowledged through the link in the page (done)"),
                   ("1 次呼叫中 1 次已通知", "1 of 1 calls paged")]:
        assert zh in text and en in text, (zh, text)
        assert text.index(zh) < text.index(en)
    # The online line comes before the first press.
    assert text.index("家庭网关已在中心上线") < text.index("呼叫：")


@pytest.mark.parametrize(("title", "reason"), [
    ("[紧急] 呼叫按钮被按下 / Call button pressed — 王桂荣 · #3", "alert"),
    ("[紧急 · 提醒 2] 呼叫按钮被按下 — 王桂荣 · #3", "reminder"),
    ("[紧急 · 已升级] 呼叫按钮被按下 — 王桂荣 · #3", "escalation"),
    ("[URGENT · Escalated] Call button pressed — Wang · #3", "escalation"),
    ("[URGENT · Nobody on site in time] Fall detected — Wang · #3", "sla_arrival"),
])
def test_the_demo_reads_why_a_page_came_from_its_title(title: str, reason: str) -> None:
    assert page_reason(title) == reason
