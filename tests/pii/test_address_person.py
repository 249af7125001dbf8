"""Address and person recognizers (no checksum: shape, anchors and context)."""
from __future__ import annotations

import pytest
from pii_gen import single_match

from nlp_guard.pii.address import AddressRecognizer, address_components
from nlp_guard.pii.person import PersonRecognizer

ADDR = AddressRecognizer()
PERSON = PersonRecognizer()

ADDRESS_CASES: list[tuple[str, str, str | None]] = [
    (
        "full",
        "我住在广东省深圳市南山区科技园路1号阳光小区3栋2单元301室，快还钱",
        "广东省深圳市南山区科技园路1号阳光小区3栋2单元301室",
    ),
    ("province_district", "北京市朝阳区", "北京市朝阳区"),
    ("municipality_no_shi", "上海浦东新区世纪大道100号", "上海浦东新区世纪大道100号"),
    ("city_district_road", "杭州市西湖区文三路", "杭州市西湖区文三路"),
    ("district_road_number", "地址：朝阳区建国路88号", "朝阳区建国路88号"),
    ("estate_building", "你家在幸福小区5栋吧", "幸福小区5栋"),
    ("estate_unit_room", "阳光花园2单元1203", "阳光花园2单元1203"),
    ("county_town", "我们去过临安县青山镇", "临安县青山镇"),
    ("beijing_alone", "北京", None),
    ("city_alone", "我在深圳市", None),
    ("province_alone", "广东人", None),
    ("market_not_city", "这个地区的市场", None),
    ("which_district", "你在哪个区", None),
    ("numbers_only", "3栋2单元301室", None),
    ("plain_sentence", "请尽快还款，否则后果自负", None),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in ADDRESS_CASES], ids=[c[0] for c in ADDRESS_CASES]
)
def test_address_table(text: str, expected: str | None) -> None:
    f = single_match(ADDR.analyze(text), text, expected)
    if f is None:
        return
    assert "components " in f.explanation
    assert f.validated is None


def test_more_components_score_higher() -> None:
    (short,) = ADDR.analyze("北京市朝阳区")
    (long,) = ADDR.analyze("北京市朝阳区建国路88号阳光小区3栋")
    assert long.score > short.score
    assert address_components("北京市朝阳区")["province"] == "北京市"


PERSON_CASES: list[tuple[str, str, str | None, str | None]] = [
    ("wife", "你老婆李秀英的电话是多少", "李秀英", "person_kinship"),
    ("son", "你儿子张小明在学校", "张小明", "person_kinship"),
    ("father_named", "你爸爸叫王大锤吧", "王大锤", "person_kinship"),
    ("legal_rep", "法人代表王建国", "王建国", "person_role"),
    ("guarantor_two_chars", "担保人刘强已经跑了", "刘强", "person_role"),
    ("emergency_contact", "紧急联系人：陈静", "陈静", "person_role"),
    ("label", "姓名：张伟，", "张伟", "person_label"),
    ("honorific_xiansheng", "请转告李建国先生", "李建国", "person_honorific"),
    ("honorific_nvshi", "欧阳娜娜女士您好", "欧阳娜娜", "person_honorific"),
    ("conjunction_not_surname", "我和张三先生谈过", "张三", "person_honorific"),
    ("surname_only_honorific", "王先生你好", None, None),
    ("kinship_no_name", "你老婆在家吗", None, None),
    ("kinship_then_adverb", "你儿子马上要毕业", None, None),
    ("no_anchor", "李秀英", None, None),
    ("not_a_surname", "你老婆嗯嗯", None, None),
]


@pytest.mark.parametrize(
    ("text", "expected", "pattern"), [c[1:] for c in PERSON_CASES], ids=[c[0] for c in PERSON_CASES]
)
def test_person_table(text: str, expected: str | None, pattern: str | None) -> None:
    f = single_match(PERSON.analyze(text), text, expected)
    if f is None:
        return
    assert f.explanation.startswith(f"pattern {pattern}")


def test_unanchored_name_scores_lower() -> None:
    (kin,) = PERSON.analyze("你老婆李秀英")
    (hon,) = PERSON.analyze("李秀英女士")
    assert kin.score > hon.score
    assert "anchor 老婆" in kin.explanation
