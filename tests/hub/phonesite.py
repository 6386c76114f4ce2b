"""A station as the caregiver's phone page sees it: residents with their files, a family
contact and a supervisor with phones, a home with a position and one without, another
station's caregiver, and helpers that raise alerts and escalate them on a fake clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.db import Alert, Resident
from hub.registry import create_person, update_home, update_person, update_resident
from hub.registry.models import PersonIn
from hub.web import WebContext
from tests.hub.conftest import FakeClock, site_config
from tests.hub.webapp import hubless_context

ADDRESS_1 = "武汉市青山区和平大道 1288 号 3 栋 2 单元 502 室"
ADDRESS_2 = "黄陂区木兰乡 双河村 7 组"
LAT, LON = 30.6407, 114.3862


def station(tmp_path: Path, clock: FakeClock | None = None,
            influx: dict[str, Any] | None = None) -> WebContext:
    """Return the web app's context of a town and a village station (see the module)."""
    sections: dict[str, Any] = {
        "sites": [{"id": "town", "name": "青山服务站", "kind": "urban"},
                  {"id": "village", "name": "木兰服务站", "kind": "rural"}],
        "homes": [{"id": "home-1", "site": "town", "address": ADDRESS_1,
                   "resident": {"name": "王桂荣"}},
                  {"id": "home-2", "site": "village", "address": ADDRESS_2,
                   "resident": {"name": "李秀英"}}],
        "caregivers": [
            {"id": "cg-zhang", "name": "张护理员", "site": "town", "notify": ["json://zhang/"]},
            {"id": "cg-li", "name": "李护理员", "site": "town", "role": "backup",
             "notify": ["json://li/"]},
            {"id": "sup-liu", "name": "刘站长", "site": "town", "role": "supervisor",
             "notify": ["json://liu/"]},
            {"id": "cg-en", "name": "Anna Berg", "site": "town", "notify": ["json://anna/"],
             "language": "en"},
            {"id": "cg-zhao", "name": "赵护理员", "site": "village", "notify": ["json://zhao/"]},
        ],
    }
    if influx is not None:
        sections["influx"] = influx
    context = hubless_context(site_config(tmp_path, **sections), clock or FakeClock())
    with context.sessions() as session:
        update_home(session, "home-1", {"door_notes": "单元门密码 1234#，电梯到 5 楼左转",
                                        "key_notes": "备用钥匙在 501 邻居陈阿姨家",
                                        "phone": "027-8688 1234", "lat": LAT, "lon": LON})
        resident = session.scalars(select(Resident).where(Resident.home_id == "home-1")).one()
        update_resident(session, resident.id, {
            "sex": "female", "birth_year": 1941, "phone": "138 0027 1234",
            "care_categories": ["living_alone", "dementia"],
            "conditions": "高血压，2 型糖尿病", "allergies": "青霉素",
            "medical_notes": "服用华法林，跌倒后注意出血"})
        create_person(session, PersonIn(id="fam-wang", name="王小明（儿子）", role="family",
                                        home="home-1", notify=["json://son/"],
                                        phone="+86 139 1111 2222"))
        update_person(session, "sup-liu", {"phone": "027-8600 0001"})
        session.commit()
    return context


def open_alert(context: WebContext, home: str, kind: str, data: dict[str, Any] | None = None,
               ago_s: float = 0.0) -> int:
    """Hand the engine one event of `kind` (`ago_s` before now); return its alert's id."""
    with context.sessions() as session:
        alert = context.engine.on_event(session, home, kind, "dev", context.clock.now() - ago_s,
                                        data or {})
        session.commit()
        assert alert is not None
        return alert.id


def advance(context: WebContext, seconds: float, step: float = 10.0) -> None:
    """Move the fake clock on, letting the engine escalate and remind as it goes."""
    clock = context.clock
    assert isinstance(clock, FakeClock)
    end = clock.t + seconds
    while clock.t < end:
        clock.t = min(end, clock.t + step)
        context.engine.tick()


def alert_row(context: WebContext, alert_id: int) -> Alert:
    with context.sessions() as session:
        row = session.get(Alert, alert_id)
        assert row is not None
        return row
