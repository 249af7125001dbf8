"""Tenants are isolated: one tenant's overlay never changes another tenant's results (issue 12).

Token rules teach the segmenter their words; with one process-wide jieba dictionary an
overlay's ``孩子上学`` became one word and the base pack's ``孩子 … 上学`` pattern stopped
matching, depending on which tenant was loaded first.
"""
from __future__ import annotations

import pytest

from nlp_guard import Guard
from nlp_guard.policy import apply_overlay, default_policy, load_overlay

SCHOOL = {"tenant": "school", "add_rules": [{"id": "school.tokens", "subcategory": "threat.family", "score": 0.8,
                                             "tokens": [["孩子上学"], ["地方", "时间"]], "gap": 3}]}
SHOP = {"tenant": "shop", "add_rules": [{"id": "shop.tokens", "subcategory": "threat.doorstep", "score": 0.8,
                                         "tokens": [["上学的地方"], ["等你"]], "gap": 3}]}
TEXTS = [
    ("我们知道孩子上学的地方", "debtor"),
    ("你家孩子每天几点放学我们都清楚", "debtor"),
    ("孩子上学的时间我们都知道", "debtor"),
    ("上学的地方等你", "debtor"),
    ("您好，本月账单已出，请按时还款。", "debtor"),
]


def _results(guard: Guard) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for text, recipient in TEXTS:
        d = guard.check(text, recipient, suggest=False)
        out.append((d.decision, tuple(sorted(v.subcategory for v in d.violations))))
    return out


def _guards(order: list[dict]) -> dict[str, Guard]:
    base = default_policy()
    guards = {"base": Guard(base)}
    for o in order:
        guards[o["tenant"]] = Guard(apply_overlay(base, load_overlay(o)))
    return guards


@pytest.mark.parametrize("order", [[SCHOOL, SHOP], [SHOP, SCHOOL]], ids=["school-first", "shop-first"])
def test_overlays_in_either_order_give_identical_results(order: list[dict]) -> None:
    first = {name: _results(g) for name, g in _guards(order).items()}
    second = {name: _results(g) for name, g in _guards(order[::-1]).items()}
    assert first == second


def test_overlay_words_do_not_change_the_base_pack() -> None:
    before = _results(Guard(default_policy()))
    guards = _guards([SCHOOL, SHOP])
    assert _results(guards["base"]) == before
    d = guards["base"].check("我们知道孩子上学的地方", "debtor", suggest=False)
    assert d.decision == "block" and "threat.family" in {v.subcategory for v in d.violations}


def test_each_tenant_sees_its_own_rule() -> None:
    guards = _guards([SCHOOL, SHOP])
    d = guards["school"].check("孩子上学的时间我们都知道", "debtor", suggest=False)
    assert any(e.text.startswith("孩子上学") for v in d.violations for e in v.evidence)
    assert guards["base"].rules.segmenter is not guards["school"].rules.segmenter
    assert guards["school"].rules.segmenter.tokenize("孩子上学")[0][0] == "孩子上学"
    assert guards["base"].rules.segmenter.tokenize("孩子上学")[0][0] == "孩子"
