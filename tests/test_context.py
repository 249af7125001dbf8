"""The protective and negating context filter, on the default pack's context."""
from __future__ import annotations

import pytest

from nlp_guard.context import ContextFilter
from nlp_guard.policy import default_policy

# (text, the hit, why it does not count: a fragment of the reason, or None when the hit stands)
CASES = [
    ("我们不会把您的借款情况告诉家人", "告诉家人", "negated by '不会'"),
    ("我们不会称呼您为老赖", "老赖", "negated by '不会'"),
    ("也不需要您帮他还", "帮他还", "negated by '不需要'"),
    ("我们不会放过你，告诉你家人", "告诉你家人", None),       # the comma ends the negator's clause
    ("不会放过你的老赖", "老赖", "negated by '不会'"),         # within the clause and the window
    ("不会的，明天十点钟就去找你们全体同事", "同事", None),     # beyond the comma and the 10-character window
    ("卡刷爆了就跑，你是不是个骗子", "骗子", None),            # 是不是 asks, it does not negate
    ("不要脸的老赖", "老赖", None),                            # 不要脸 insults, it does not negate
    ("请勿相信'已立案'的说法", "已立案", "quoted"),
    ("谨防冒充公检法诈骗", "冒充公检法", "protective cue"),
]


@pytest.fixture(scope="module")
def context() -> ContextFilter:
    pack = default_policy()
    return ContextFilter(pack.context, tuple(pack.allow_list))


@pytest.mark.parametrize(("text", "hit", "why"), CASES, ids=[c[0][:12] for c in CASES])
def test_context_reason(context: ContextFilter, text: str, hit: str, why: str | None) -> None:
    start = text.index(hit)
    reason = context.reason(text, start, start + len(hit))
    if why is None:
        assert reason is None
    else:
        assert reason is not None and why in reason, reason
