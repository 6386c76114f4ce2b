"""Hub test helpers: a config for one town site and a notifier that records pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub.config import HubConfig
from hub.pager import DeliveryResult


@dataclass
class RecordingNotifier:
    """Stands in for apprise where the delivery channel itself is not under test."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    async def deliver(self, url: str, title: str, body: str) -> DeliveryResult:
        if url in self.failing:
            return DeliveryResult(False, url, "refused")
        self.sent.append((url, title, body))
        return DeliveryResult(True, url)


def site_config(tmp_path: Path, **sections: object) -> HubConfig:
    raw: dict[str, object] = {
        "database": {"url": f"sqlite:///{tmp_path / 'hub.sqlite'}"},
        "api": {"secret": "x" * 32, "public_url": "http://hub.test"},
        "sites": [{"id": "town", "name": "Town station", "kind": "urban"}],
        "homes": [{"id": "home-1", "site": "town", "address": "Qingshan Road 12",
                   "resident": {"name": "Wang Guirong"}}],
        "caregivers": [
            {"id": "cg-a", "name": "A", "site": "town", "notify": ["json://a/"]},
            {"id": "cg-b", "name": "B", "site": "town", "role": "backup", "notify": ["json://b/"]},
        ],
    }
    raw.update(sections)
    return HubConfig.model_validate(raw)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()
