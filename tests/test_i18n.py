"""Languages: every text people read has a translation in each language, with the same
fields; times and ages read as a caregiver in China expects them.
"""

from __future__ import annotations

import string
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bedwatch import i18n
from bedwatch.kinds import KINDS, kind_text

ROOT = Path(__file__).resolve().parents[1]
# The domain of a text is where it is written (bedwatch.i18n's table).
FOLDER_DOMAINS = (("hub/web/", "web"), ("dashboards/", "desk"))


def _domain(filename: str) -> str:
    for prefix, domain in FOLDER_DOMAINS:
        if filename.replace("\\", "/").startswith(prefix):
            return domain
    return "bedwatch"


def _extracted() -> dict[str, dict[str | tuple[str, ...], list[str]]]:
    """Run Babel's extractor over the source tree as babel.cfg says; texts by domain."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, dict[str | tuple[str, ...], list[str]]] = defaultdict(dict)
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=i18n.KEYWORDS):
        found[_domain(filename)].setdefault(message, []).append(f"{filename}:{lineno}")
    return found


EXTRACTED = _extracted()


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _catalogue(language: str, domain: str) -> dict[str | tuple[str, ...], object]:
    path = i18n.catalogue_path(language, domain)
    assert path.exists(), f"{domain} texts are marked but {path} is missing"
    with path.open("rb") as handle:
        return {m.id: m for m in read_po(handle, locale=language) if m.id}


def test_the_extraction_finds_the_texts_of_the_kinds_and_the_pages() -> None:
    texts = EXTRACTED["bedwatch"]
    assert "Call button pressed" in texts  # a kind, marked in its table row
    assert ("{n} hour ago", "{n} hours ago") in texts  # a plural
    assert len(texts) > len(KINDS)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_every_extracted_text_has_a_translation(domain: str, language: str) -> None:
    marked = EXTRACTED.get(domain, {})
    if not marked:
        pytest.skip(f"no {domain} texts are marked in the source yet")
    catalogue = _catalogue(language, domain)
    missing = []
    for msgid, where in marked.items():
        message = catalogue.get(msgid)
        strings = getattr(message, "string", None)
        forms = strings if isinstance(strings, tuple) else (strings,)
        if message is None or getattr(message, "fuzzy", False) or not all(forms):
            missing.append(f"{msgid!r} ({where[0]})")
    assert not missing, f"{len(missing)} texts without a {language} translation:\n" + \
        "\n".join(missing)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_translations_have_the_fields_of_their_msgid(domain: str, language: str) -> None:
    if not i18n.catalogue_path(language, domain).exists():
        pytest.skip(f"no {domain} catalogue for {language}")
    wrong = []
    for msgid, message in _catalogue(language, domain).items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        wanted = set().union(*(_fields(i) for i in ids))
        strings = getattr(message, "string", "")
        for form in strings if isinstance(strings, tuple) else (strings,):
            if form and _fields(form) != wanted:
                wrong.append(f"{msgid!r}: {form!r}")
    assert not wrong, "translations whose {fields} differ from the msgid:\n" + "\n".join(wrong)


def test_every_kind_reads_in_chinese_and_in_english() -> None:
    for name, kind in KINDS.items():
        zh, en = kind_text(name, "zh_CN"), kind_text(name, "en")
        assert en == kind.en
        assert zh != en and any("\u4e00" <= c <= "\u9fff" for c in zh), name
    assert kind_text("call") == "呼叫按钮被按下"  # Chinese when no language is given
    assert kind_text("made_up_kind", "en") == "made up kind"


@pytest.mark.parametrize(("candidates", "expected"), [
    ((), "zh_CN"),
    ((None, ""), "zh_CN"),
    (("en",), "en"),
    (("EN-us",), "en"),
    (("zh-CN",), "zh_CN"),
    (("zh_Hans_CN",), "zh_CN"),
    (("fr", "en"), "en"),  # a person's unsupported language gives way to the organisation's
    ((None, "en"), "en"),
    (("fr-FR,en;q=0.5,zh-CN;q=0.9",), "zh_CN"),  # Accept-Language, by weight
    (("en;q=0,zh;q=0.1",), "zh_CN"),  # q=0 means "not this"
    (("de, en-GB;q=0.8",), "en"),
    (("xx", "yy"), "zh_CN"),
])
def test_pick_language(candidates: tuple[str | None, ...], expected: str) -> None:
    assert i18n.pick_language(*candidates) == expected


def test_an_unknown_language_reads_chinese_and_a_missing_text_reads_its_msgid() -> None:
    assert i18n.translator("fr").language == "zh_CN"
    assert i18n.translator(None).gettext("{n} min ago") == "{n} 分钟前"
    assert i18n.translator("zh_CN").gettext("Not a text anyone marked") == \
        "Not a text anyone marked"
    assert i18n.translator("en", "no_such_domain").gettext("x") == "x"
    assert i18n.translator("zh_CN").gettext("") == ""  # never the catalogue's header


def test_catalogues_are_parsed_once() -> None:
    assert i18n.translator("zh-CN") is i18n.translator("zh_CN")


def test_plural_forms_follow_each_language() -> None:
    en, zh = i18n.translator("en"), i18n.translator("zh_CN")
    assert en.ngettext("{n} hour ago", "{n} hours ago", 1).format(n=1) == "1 hour ago"
    assert en.ngettext("{n} hour ago", "{n} hours ago", 2).format(n=2) == "2 hours ago"
    assert zh.ngettext("{n} hour ago", "{n} hours ago", 1).format(n=1) == "1 小时前"
    assert zh.ngettext("{n} hour ago", "{n} hours ago", 5).format(n=5) == "5 小时前"


def test_both_reads_chinese_first_then_english() -> None:
    assert i18n.both("{n} min ago", n=3) == "3 分钟前 / 3 min ago"
    assert i18n.pair("Fall detected") == ("检测到跌倒", "Fall detected")
    assert i18n.both("{date} {time}", date="x", time="y") == "x y"  # once when equal
    # A field that reads differently in each language.
    assert i18n.both("{n} min ago", n=lambda lang: 3 if lang == "en" else 4) == \
        "4 分钟前 / 3 min ago"


def _shanghai(*args: int) -> float:
    # Asia/Shanghai is UTC+8 all year (no daylight saving since 1991).
    return datetime(*args, tzinfo=UTC).timestamp() - 8 * 3600  # type: ignore[misc]


NOW = _shanghai(2026, 11, 28, 3, 10, 0)  # 03:10 local, 19:10 UTC the day before


@pytest.mark.parametrize(("t", "lang", "expected"), [
    (_shanghai(2026, 11, 28, 2, 55, 30), "zh_CN", "02:55"),  # today, though UTC says yesterday
    (_shanghai(2026, 11, 28, 0, 5, 0), "en", "00:05"),
    (_shanghai(2026, 11, 27, 23, 50, 0), "zh_CN", "昨天 23:50"),
    (_shanghai(2026, 11, 27, 23, 50, 0), "en", "yesterday 23:50"),
    (_shanghai(2026, 11, 20, 14, 5, 0), "zh_CN", "11月20日 14:05"),
    (_shanghai(2026, 11, 20, 14, 5, 0), "en", "Nov 20 14:05"),
    (_shanghai(2025, 12, 31, 21, 0, 0), "zh_CN", "2025年12月31日 21:00"),
])
def test_local_time_is_24_hour_with_the_date_when_not_today(
        t: float, lang: str, expected: str) -> None:
    assert i18n.local_time(t, now=NOW, lang=lang) == expected


def test_local_time_takes_datetimes_seconds_and_other_zones() -> None:
    moment = datetime.fromtimestamp(_shanghai(2026, 11, 28, 2, 55, 30), UTC)
    assert i18n.local_time(moment, now=NOW, lang="en", seconds=True) == "02:55:30"
    # In Urumqi (UTC+6) the same instant is 00:55, still today there.
    assert i18n.local_time(moment, now=NOW, lang="en", zone="Asia/Urumqi") == "00:55"
    assert i18n.local_time(moment, now=NOW, lang="en", zone="Not/AZone") == "02:55"


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (-5, "0 秒前", "0 s ago"),  # a clock a little ahead never reads "in the future"
    (42, "42 秒前", "42 s ago"),
    (200, "3 分钟前", "3 min ago"),
    (3600, "1 小时前", "1 hour ago"),
    (3 * 3600 + 59, "3 小时前", "3 hours ago"),
    (2 * 86400, "2 天前", "2 days ago"),
])
def test_age(seconds: float, zh: str, en: str) -> None:
    assert i18n.age(seconds, "zh_CN") == zh
    assert i18n.age(seconds, "en") == en


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (30, "30 秒", "30 s"),
    (240, "4 分钟", "4 min"),
    (3600, "1 小时", "1 hour"),
    (7500, "2 小时 5 分钟", "2 h 5 min"),
])
def test_duration(seconds: float, zh: str, en: str) -> None:
    assert i18n.duration(seconds, "zh_CN") == zh
    assert i18n.duration(seconds, "en") == en


LONG_NAMES = ["王桂荣", "阿卜杜热合曼·买买提艾力·吐尔逊·艾合买提江", "𠮷野家𠮷田𠮷子" * 4,
              "Wang Guirong", "Maximilian Alexander von Hohenzollern-Sigmaringen the Third"]
LONG_PLACES = ["", "青山路 12 号",
               "新疆维吾尔自治区乌鲁木齐市天山区解放南路街道幸福小区二期十七号楼"
               "三单元五楼五零二室（进门左转第二个楼梯，钥匙在门口地垫下）",
               "Flat 5B, Building 17, Happiness Garden Phase II, South Liberation Road, Urumqi"]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("reason", ["alert", "reminder", "escalation", "sla_arrival"])
@pytest.mark.parametrize("kind", [k for k, row in KINDS.items() if row.alert and row.alert.page])
def test_an_sms_first_line_fits_one_segment_and_keeps_the_kind(
        kind: str, reason: str, language: str) -> None:
    from hub.alerts.page_text import SMS_SEGMENT_UNITS, PageFacts, sms_first_line, ucs2_units

    what = kind_text(kind, language)
    for name in LONG_NAMES:
        for place in LONG_PLACES:
            facts = PageFacts(alert_id=1, kind=kind, severity="critical", reason=reason,
                              language=language, now=NOW, first_event_t=NOW, zone=None or
                              "Asia/Shanghai", resident=name, home="home-1", address=place,
                              reminder=3)
            line = sms_first_line(facts)
            assert ucs2_units(line) <= SMS_SEGMENT_UNITS, line
            assert what in line, line  # the kind is never cut
            # The name is there, or as much of it as leaves room: never dropped for the address.
            assert name[:2] in line, line
