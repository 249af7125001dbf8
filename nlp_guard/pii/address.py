"""Chinese postal addresses (province ... road, number, estate, building, room)."""
from __future__ import annotations

import functools
from typing import ClassVar

import regex

from nlp_guard.pii.base import Pattern, PatternRecognizer, han_except

#: Function characters that never sit inside a place name; free-form
#: components stop at them so "我住在深圳市" yields "深圳市", not "住在深圳市".
_STOP = "在住是我你他她它的了到去来过回搬至位送寄家址为于从往和与及或请把给被让叫就都也还要会能对向说这那有没不欠钱元块号码个些"
_H = han_except(_STOP)

_PROVINCE = (
    r"(?:(?:北京|天津|上海|重庆)市?"
    r"|(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南"
    r"|四川|贵州|云南|陕西|甘肃|青海|台湾)省?"
    r"|(?:内蒙古|广西|西藏|宁夏|新疆)(?:壮族|回族|维吾尔)?(?:自治区)?"
    r"|(?:香港|澳门)(?:特别行政区)?)"
)
_CITY = rf"(?:{_H}{{1,6}}?(?:市|自治州|地区|盟))"
_DISTRICT = rf"(?:{_H}{{1,6}}?(?:新区|(?<!小)区|县|旗))"
_TOWN = rf"(?:{_H}{{1,6}}?(?:街道|镇|乡|村))"
_NUM = r"(?:\d{1,5}(?:[\-之]\d{1,4})?号(?:院)?)"
_ROAD = rf"(?:{_H}{{1,8}}?(?:大道|大街|路|街|巷|弄|胡同|里)(?:{_NUM})?)"
_ESTATE = rf"(?:{_H}{{1,8}}?(?:小区|花园|家园|新村|公寓|大厦|广场|苑|庭|府|公馆|山庄))"
_BUILDING = r"(?:\d{1,3}(?:栋|幢|号楼|座|期))"
_UNIT = r"(?:\d{1,2}单元)"
_ROOM = r"(?:\d{1,3}(?:层|楼)(?!\d)|[\-]?\d{2,5}(?:室|房|号)?)"

#: Component groups, in the order Chinese addresses are written.
_COMPONENTS: tuple[tuple[str, str], ...] = (
    ("province", _PROVINCE),
    ("city", _CITY),
    ("district", _DISTRICT),
    ("town", _TOWN),
    ("road", _ROAD),
    ("number", _NUM),
    ("estate", _ESTATE),
    ("building", _BUILDING),
    ("unit", _UNIT),
)

_ADDRESS = "".join(f"(?P<{name}>{rx})?" for name, rx in _COMPONENTS) + rf"(?P<room>(?<=栋|幢|号楼|座|单元|层|楼){_ROOM})?"
_PARSER = regex.compile(_ADDRESS, regex.VERSION1)
#: Components that carry no place name alone and so count less.
_WEAK = frozenset({"number", "room", "unit"})


@functools.lru_cache(maxsize=4096)
def _parse(value: str) -> tuple[tuple[str, str], ...]:
    """Cached parse: each match is checked, scored and explained from one parse."""
    m = _PARSER.fullmatch(value, timeout=0.5)
    if m is None:
        return ()
    return tuple((k, v) for k, v in m.groupdict().items() if v)


def address_components(value: str) -> dict[str, str]:
    """The named components of ``value`` when it parses as a whole address."""
    return dict(_parse(value))


def region_prefix_length(value: str) -> int:
    """Length of the leading province/city part, which redaction may keep."""
    m = _PARSER.match(value, timeout=0.5)
    if m is None:
        return 0
    for name in ("city", "province"):
        if m.group(name):
            return m.end(name)
    return 0


class AddressRecognizer(PatternRecognizer):
    """An address must have at least two components ("北京" alone is a city mention).

    There is no checksum; the score grows with the number of components and a
    match made of building/unit/room numbers only is not an address.
    """

    ENTITY: ClassVar[str] = "address"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (Pattern("address_components", _ADDRESS, 0.3),)
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "地址", "住址", "住在", "家在", "户籍", "居住", "上门", "收货", "现居", "籍贯", "住所", "单位地址", "家访",
    )
    MIN_COMPONENTS: ClassVar[int] = 2
    #: Every multi-component address holds a suffix character or a province
    #: name; the free-form components are at most ~10 chars from one.
    PREFILTER: ClassVar[str | None] = (
        r"[省市州盟区县旗镇乡村路街巷弄同里号院园寓厦场苑庭府馆庄栋幢座期元室房层楼]"
        r"|北京|天津|上海|重庆|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
    )
    PREFILTER_MARGIN: ClassVar[tuple[int, int]] = (14, 8)

    def invalidate_result(self, pattern_text: str) -> str | None:
        """Too few components, or only numbers, is not an address."""
        parts = address_components(pattern_text)
        if len(parts) < self.MIN_COMPONENTS:
            return f"only {len(parts)} address component"
        if all(name in _WEAK or name in {"building"} for name in parts):
            return "numbers without a place name"
        return None

    def score_match(self, pattern: Pattern, pattern_text: str) -> float:
        """+0.1 per named component beyond two, capped at 0.8."""
        parts = address_components(pattern_text)
        strong = sum(1 for name in parts if name not in _WEAK)
        return min(0.8, pattern.score + 0.1 * max(0, len(parts) - 2) + (0.1 if strong >= 3 else 0.0))

    def validation_note(self, pattern_text: str, result: bool | None) -> str:
        """List the components found."""
        parts = address_components(pattern_text)
        return "components " + "+".join(parts) if parts else ""
