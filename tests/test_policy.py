"""Policy packs: the default validates; broken packs get errors that say what to fix."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlp_guard import Guard, PolicyError
from nlp_guard.policy import CATEGORY_CODES, apply_overlay, default_policy, load_overlay, load_policy
from nlp_guard.policy.loader import DEFAULT_PACK


def _pack_dict() -> dict:
    from importlib import resources

    return yaml.safe_load(resources.files("nlp_guard.data").joinpath(DEFAULT_PACK).read_text("utf-8"))


def test_default_pack_is_complete() -> None:
    pack = default_policy()
    assert set(pack.categories) == set(CATEGORY_CODES)
    assert pack.version
    for code in pack.subcategory_codes():
        assert pack.citations_for(code)


def test_us_profile_cites_fdcpa() -> None:
    data = _pack_dict()
    data["profile"] = "us"
    from nlp_guard.policy.schema import PolicyPack

    pack = PolicyPack.model_validate(data)
    assert any("FDCPA" in c for c in pack.citations_for("threat.veiled"))
    assert any("1006.6" in c for c in pack.citations_for("privacy.third_party_disclosure"))


def _breaks(data: dict, what: str) -> dict:
    if what == "unknown_field":
        data["categories"]["threat"]["colour"] = "red"
    elif what == "missing_category":
        del data["categories"]["coercion"]
    elif what == "bad_threshold":
        data["categories"]["abuse"]["threshold"] = 1.5
    elif what == "bad_regex":
        data["rules"][0] = {"id": "x", "subcategory": "threat.veiled", "score": 0.5, "regex": ["(unclosed"]}
    elif what == "unknown_subcategory":
        data["rules"][0]["subcategory"] = "threat.nonexistent"
    elif what == "unknown_citation":
        data["categories"]["threat"]["subcategories"]["threat.veiled"]["citations"] = ["cn.nope"]
    elif what == "two_kinds":
        data["rules"][0]["regex"] = ["abc"]
    elif what == "duplicate_rule":
        data["rules"].append(dict(data["rules"][0]))
    elif what == "bad_quote_pair":
        data["context"]["quote_pairs"] = ["“"]
    return data


@pytest.mark.parametrize(("what", "message"), [
    ("unknown_field", "categories.threat.colour: unknown field"),
    ("missing_category", "missing categories ['coercion']"),
    ("bad_threshold", "categories.abuse.threshold"),
    ("bad_regex", "does not compile"),
    ("unknown_subcategory", "unknown subcategory 'threat.nonexistent'"),
    ("unknown_citation", "unknown citation 'cn.nope'"),
    ("two_kinds", "exactly one of phrases, regex, tokens"),
    ("duplicate_rule", "is used twice"),
    ("bad_quote_pair", "exactly two characters"),
])
def test_invalid_pack_explains_itself(tmp_path: Path, what: str, message: str) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(_breaks(_pack_dict(), what), allow_unicode=True), "utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert message in str(err.value)
    assert err.value.code == "E201"


@pytest.mark.parametrize(("content", "message"), [
    ("version: [unclosed", "not valid YAML at line 1"),
    ("- a list", "top level must be a mapping"),
])
def test_unparseable_pack(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(content, "utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_missing_and_non_utf8_pack(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "gbk.yaml"
    bad.write_bytes("版本".encode("gbk"))
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(bad)


def test_tenant_overlay_adds_words_allow_list_and_thresholds() -> None:
    base = default_policy()
    overlay = load_overlay({"tenant": "acme", "add_phrases": {"abuse.insult.terms": ["赖皮鬼"]},
                            "allow_list": ["老赖名单查询"], "thresholds": {"threat": 0.7}})
    pack = apply_overlay(base, overlay)
    assert pack.version.endswith("+acme.1")
    assert pack.categories["threat"].threshold == 0.7
    assert base.categories["threat"].threshold == 0.5  # the base pack is untouched
    g = Guard(pack)
    assert g.check("你这个赖皮鬼").decision == "block"
    assert Guard(base).check("你这个赖皮鬼").decision == "allow"
    assert g.check("欢迎使用老赖名单查询服务").decision == "allow"


@pytest.mark.parametrize(("overlay", "message"), [
    ({"tenant": "x", "add_phrases": {"no.such.rule": ["a"]}}, "unknown rule"),
    ({"tenant": "x", "thresholds": {"threat": 2}}, "between 0 and 1"),
    ({"tenant": "x", "thresholds": {"spam": 0.5}}, "unknown category"),
    ({"tenant": "x", "colour": "red"}, "unknown field"),
])
def test_bad_overlay(overlay: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        apply_overlay(default_policy(), load_overlay(overlay))
