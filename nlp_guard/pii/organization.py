"""Organisation names: the creditor, a guarantor company, an employer named in a debt letter."""
from __future__ import annotations

from typing import ClassVar

from nlp_guard.finding import Finding
from nlp_guard.pii.base import Pattern, PatternRecognizer, han_except
from nlp_guard.pii.ner import get_ner, merge_with_ner, without_ner

#: Endings that make a span a registered organisation, longest first.
ORG_SUFFIXES: tuple[str, ...] = (
    "股份有限公司", "有限责任公司", "有限公司", "小额贷款公司", "融资担保公司", "担保公司", "消费金融公司", "集团公司",
    "集团", "公司", "银行", "分行", "支行", "信用社", "事务所", "合作社", "厂",
)
#: Words that introduce a party to a loan in letters and calls.
PARTY_WORDS: tuple[str, ...] = (
    "债权人", "出借人", "贷款人", "保证人", "担保人", "担保方", "借款人", "债务人", "委托方", "受托方", "工作单位", "单位", "就职于",
    "任职于", "供职于", "贵司", "甲方", "乙方",
)
_H = han_except("的是在和与及或把被从向对给为了我你他她它们这那请已")
_SUFFIX = "(?:" + "|".join(ORG_SUFFIXES) + ")"
_PARTY = "(?:" + "|".join(sorted(PARTY_WORDS, key=len, reverse=True)) + ")"


class OrganizationRecognizer(PatternRecognizer):
    """Organisation names from the NER, with a party word + registered-suffix pattern as a boost.

    A company named as creditor or guarantor identifies the loan (and, for a sole trader, the person);
    it is masked like other PII. Without the NER, only the anchored pattern ("保证人：XX有限公司") runs.
    """

    ENTITY: ClassVar[str] = "organization"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern("organization_party", rf"{_PARTY}(?:是|为)?[:：]?\s?(?P<pii>{_H}{{2,20}}?{_SUFFIX})", 0.55),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("债权人", "出借人", "担保", "保证", "借款合同", "营业执照", "信用代码", "单位")
    NER_SCORE: ClassVar[float] = 0.55
    AGREE_BOOST: ClassVar[float] = 0.15

    def name_ends_at(self, text: str, end: int) -> bool:
        """The anchored pattern always ends on a registered suffix, so its extent holds."""
        return True

    def analyze(self, text: str, keep_invalid: bool = False) -> list[Finding]:
        """NER ORG spans merged with the anchored pattern."""
        anchored = super().analyze(text, keep_invalid)
        model = get_ner()
        if model is None:
            return without_ner(anchored)
        orgs = [e for e in model.entities(text) if e.label == "ORG" and len(text[e.start:e.end].strip()) >= 2]
        return merge_with_ner(text, anchored, orgs, label=self.ENTITY, score=self.NER_SCORE,
                              agree_boost=self.AGREE_BOOST, context=self)
