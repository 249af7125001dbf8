"""The policy pack's schema: categories, citations, rules and context as versioned data.

Validation errors name the field and say how to fix it; ``load_policy`` turns
them into :class:`~nlp_guard.errors.PolicyError`.
"""
from __future__ import annotations

from typing import Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CATEGORY_CODES = ("threat", "abuse", "deception", "privacy", "coercion")
Action = Literal["block", "flag"]
Severity = Literal["low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Citation(_Strict):
    title: str
    profile: Literal["cn", "us"] = "cn"
    note: str = ""


class Subcategory(_Strict):
    name: str
    citations: list[str] = Field(min_length=1)
    suggestion: str = Field(description="a compliant sentence to write instead")
    action: Action | None = None


class Category(_Strict):
    name: str
    severity: Severity
    action: Action
    threshold: float = Field(ge=0.0, le=1.0, description="score at or above which the category fires")
    model_subcategory: str = Field(description="subcategory reported when only the model fires")
    # the same for a message to a reader who may know the debt (debtor, guarantor): the model's privacy
    # there is exposure to others, not a disclosure to the reader, and its suggestion must not be a relay
    model_subcategory_known: str | None = Field(
        default=None, description="subcategory reported when only the model fires and the reader may know the debt")
    subcategories: dict[str, Subcategory] = Field(min_length=1)

    @model_validator(mode="after")
    def _model_sub_known(self) -> Category:
        for field in ("model_subcategory", "model_subcategory_known"):
            code = getattr(self, field)
            if code is not None and code not in self.subcategories:
                raise ValueError(f"{field} {code!r} is not one of {sorted(self.subcategories)}")
        return self


class Rule(_Strict):
    """One rule; exactly one of ``phrases``, ``regex`` or ``tokens`` is set.

    ``tokens`` is a token pattern: a list of word alternatives per slot, matched on
    jieba word boundaries, with at most ``gap`` words between consecutive slots.
    """

    id: str
    subcategory: str
    score: float = Field(ge=0.0, le=1.0)
    phrases: list[str] = []
    regex: list[str] = []
    tokens: list[list[str]] = []
    gap: int = Field(default=4, ge=0, le=20)
    protective_context: bool = Field(default=True, description="suppress when quoted or negated")
    lawful_after: list[str] = Field(default=[], description="words that, earlier in the hit's sentence, make "
                                                            "it a statement of lawful process (判决后 … 失信名单)")
    lawful_with: list[str] = Field(default=[], description="regexes that, in the hit's sentence or the next, "
                                                           "with no contrast after them, make it lawful: a visit the "
                                                           "debtor can reschedule (如时间不便可来电改约)")
    recipients: list[str] = Field(default=[], description="only for these recipients; empty = all")
    also: list[str] = Field(default=[], description="further subcategories the same hit counts for "
                                                    "(a threat to expose the debt is threat + privacy)")

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [k for k in ("phrases", "regex", "tokens") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(f"rule {self.id!r} must set exactly one of phrases, regex, tokens (got {kinds or 'none'})")
        return self

    @field_validator("regex", "lawful_with")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                regex.compile(p)
            except regex.error as exc:
                raise ValueError(f"regex {p!r} does not compile: {exc}") from exc
        return patterns


class Context(_Strict):
    """Protective and negating context that turns a hit into a non-violation."""

    window: int = Field(default=14, ge=1, le=60)
    protective_prefixes: list[str]
    protective_suffixes: list[str]
    negators: list[str]
    negator_window: int = Field(default=3, ge=1, le=16)
    # a negation the sender takes back: 不会发到你家族群里，前提是你今晚把钱转过来 ...
    provisos: list[str] = []
    # ... or a "not saying" followed by a "but": 我们不会说你明天就要被抓，但是要上报公安
    speech_negators: list[str] = []
    contrasts: list[str] = []
    # a denial that, with a contrast after it, takes up a quote instead of reporting it:
    # 有客户说“…”，我们当然不会这么做，不过您要是继续拖 …
    denials: list[str] = []
    # … or a wink after it: 质检不让我说“明天去你家”，你自己猜; “…”这句话我说到做到; …第二天他就还了
    winks: list[str] = []
    # words that close a list right after a hit, so that a protective cue before the list reaches it across
    # the enumeration commas (请勿通过借新还旧、信用卡套现等方式) when the list is one of ways or words
    # (``list_heads``: 通过, 使用 …: 请勿拖延、明天就去你单位闹等方式 is no such list); negators never reach that far
    list_closers: list[str] = []
    # words that take back a condemnation after a hit: 别以为是诈骗, 这可不是谣言, 你以为是假的？
    disbelief: list[str] = []
    # words just before a condemnation that aim it at something else: 先还给我们，别的都不靠谱
    others: list[str] = []
    # a first-person subject just before a hit: the sender announces his own act, which a consequence
    # after it does not condemn (到时候我们去你单位闹只会让你更难看; 若不想我们明天去你单位…请拨打)
    own_acts: list[str] = []
    # someone else's words reported before a hit (besides ``hearsay``), and what rebuts them after it, in its
    # sentence or the next: 您朋友说逾期了就会被起诉坐牢 这不对; 那人说要上门泼油漆？…公司从来没这种做法
    reporters: list[str] = []
    rebuttals: list[str] = []
    # words that end a clause as a question: a negator in it asks, which affirms (你单位不是交了公积金吗？)
    questions: list[str] = []
    # … unless they only ask the reader to agree: 我们不会告诉你家人好吗
    tag_questions: list[str] = []
    # the reader or his family just before an allow-listed phrase: it is said of them (你们一家人那都是骗子)
    addressed: list[str] = []
    # words that turn to a consequence and so start a clause of their own, comma or not: 切勿…否则通知你的单位领导
    clause_breaks: list[str] = []
    # words before a hit that take back any condemnation later in its sentence: 别以为我说找人打断你的腿是假的
    doubters: list[str] = []
    # condemnations that count only where their sentence ends: 有人说不还就坐牢，别信 (not 别信他说没钱)
    sentence_closers: list[str] = []
    list_heads: list[str] = []
    # words that hold a negator or a protective cue but are neither: 是不是, 不要脸, 按诈骗处理
    non_negators: list[str] = []
    quote_pairs: list[str] = Field(description="two-character strings: opening then closing quote")
    # words that make a quote reported or condemned speech when they stand in its sentence
    # ("之前有同事跟您说“…”，这是违规的"); quotes without one protect nothing
    quote_frames: list[str] = []
    # words that put a quote in the collector's own side's mouth or in nobody's (同事说“…”, 有人说“…”):
    # relayed, it is still a threat, unless the message condemns it after the quote
    # (``relay_condemned``: 之前有同事跟您说“…” 这种话是严重违规的). An apology (``relay_apologies``),
    # here or in a quote's own sentence, condemns only beside a word that names the wrong
    # (``relay_wrongs``: 这种话, 不对, 不实 …): "有人说“…”。给您道歉打扰了" apologises for the call
    relay_frames: list[str] = []
    relay_condemned: list[str] = []
    relay_apologies: list[str] = []
    relay_wrongs: list[str] = []
    # greetings that name the reader ("尊敬的客户：“…”"): the frame word in them reports nothing
    salutations: list[str] = []
    # defiance that reads like a protective word ("“…”，不服可以投诉"): it frames nothing either
    defiance: list[str] = []
    # condemnations that reach back over a comma ("要坐牢，那都是谣言"); other cues stay in their clause
    sentence_suffixes: list[str] = []
    # a sender disowning his own words ("…，这只是提醒，不是威胁"): they protect nothing, and the
    # classifier also reads the message without them and without its quote marks
    disclaimers: list[str] = []
    # service words a message is wrapped in (您好, 打扰了, 谢谢配合): the classifier also reads it without them
    padding: list[str] = []
    # words that put a statement in nobody's mouth (据说, 有人说): the classifier also reads it without them
    hearsay: list[str] = []

    @field_validator("quote_pairs")
    @classmethod
    def _pairs(cls, pairs: list[str]) -> list[str]:
        for p in pairs:
            if len(p) != 2:
                raise ValueError(f"quote pair {p!r} must be exactly two characters, e.g. “”")
        return pairs


class DebtFacts(_Strict):
    """What counts as revealing the debt to someone who is not the debtor."""

    terms: list[str]
    regex: list[str]
    platforms: list[str]
    # telling the reader that they owe nothing (您不需要承担还款责任, 无需代为偿还): the script the
    # third-party rules ask for, not a financial detail; a debt fact inside one is not a disclosure
    owes_nothing: list[str] = []


class Signal(_Strict):
    name: str
    terms: list[str]
    escalate: bool = False


class ContactPolicy(_Strict):
    window_start: str = Field(default="08:00", pattern=r"^\d{2}:\d{2}$")
    window_end: str = Field(default="21:00", pattern=r"^\d{2}:\d{2}$")
    timezone: str = "Asia/Shanghai"
    max_connected_calls_per_day: int = Field(default=3, ge=1)
    max_attempts_per_number_per_day: int = Field(default=6, ge=1)
    min_interval_minutes: int = Field(default=0, ge=0)


class PolicyPack(_Strict):
    version: str
    name: str
    profile: Literal["cn", "us"] = "cn"
    categories: dict[str, Category]
    citations: dict[str, Citation]
    profile_citations: dict[str, dict[str, list[str]]] = Field(
        default={}, description="profile -> subcategory -> citation ids, replacing the subcategory's own"
    )
    rules: list[Rule]
    allow_list: list[str] = []
    context: Context
    debt_facts: DebtFacts
    relay_suggestion: str
    signals: dict[str, Signal]
    contact: ContactPolicy = ContactPolicy()

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, cats: dict[str, Category]) -> dict[str, Category]:
        unknown = set(cats) - set(CATEGORY_CODES)
        missing = set(CATEGORY_CODES) - set(cats)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; allowed: {list(CATEGORY_CODES)}")
        if missing:
            raise ValueError(f"missing categories {sorted(missing)}; every pack defines all of {list(CATEGORY_CODES)}")
        for code, cat in cats.items():
            for sub in cat.subcategories:
                if not sub.startswith(code + "."):
                    raise ValueError(f"subcategory {sub!r} must start with {code + '.'!r}")
        return cats

    @model_validator(mode="after")
    def _cross_references(self) -> PolicyPack:
        subs = self.subcategory_codes()
        for code, cat in self.categories.items():
            for sub_code, sub in cat.subcategories.items():
                for c in sub.citations:
                    if c not in self.citations:
                        raise ValueError(f"subcategory {sub_code!r} cites unknown citation {c!r}; add it under 'citations'")
        seen: set[str] = set()
        for rule in self.rules:
            if rule.subcategory not in subs:
                raise ValueError(f"rule {rule.id!r} names unknown subcategory {rule.subcategory!r}; known: {sorted(subs)}")
            for extra in rule.also:
                if extra not in subs:
                    raise ValueError(f"rule {rule.id!r} lists unknown subcategory {extra!r} under 'also'")
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice; rule ids must be unique")
            seen.add(rule.id)
        for profile, mapping in self.profile_citations.items():
            for sub_code, cites in mapping.items():
                if sub_code not in subs:
                    raise ValueError(f"profile_citations.{profile} names unknown subcategory {sub_code!r}")
                for c in cites:
                    if c not in self.citations:
                        raise ValueError(f"profile_citations.{profile}.{sub_code} cites unknown citation {c!r}")
        return self

    def subcategory_codes(self) -> set[str]:
        return {s for cat in self.categories.values() for s in cat.subcategories}

    def subcategory(self, code: str) -> Subcategory:
        return self.categories[code.split(".", 1)[0]].subcategories[code]

    def citations_for(self, code: str) -> list[str]:
        """Citation titles for a subcategory under the pack's active profile."""
        ids = self.profile_citations.get(self.profile, {}).get(code) or self.subcategory(code).citations
        return [self.citations[c].title for c in ids]


class Overlay(_Strict):
    """A tenant's changes to a pack, applied without forking it."""

    tenant: str
    version: str = "1"
    profile: Literal["cn", "us"] | None = None
    add_rules: list[Rule] = []
    add_phrases: dict[str, list[str]] = Field(default={}, description="rule id -> extra phrases")
    disable_rules: list[str] = []
    allow_list: list[str] = []
    thresholds: dict[str, float] = {}
    actions: dict[str, Action] = {}
    platforms: list[str] = []
    contact: ContactPolicy | None = None

    @field_validator("thresholds")
    @classmethod
    def _threshold_range(cls, t: dict[str, float]) -> dict[str, float]:
        for k, v in t.items():
            if k not in CATEGORY_CODES:
                raise ValueError(f"threshold for unknown category {k!r}; allowed: {list(CATEGORY_CODES)}")
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"threshold for {k!r} is {v}; it must be between 0 and 1")
        return t
