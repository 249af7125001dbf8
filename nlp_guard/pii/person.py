"""Person names: anchored by kinship, role or honorific words (v1), or found by the NER (v2)."""
from __future__ import annotations

from typing import ClassVar

import regex

from nlp_guard.finding import Finding
from nlp_guard.pii.base import Pattern, PatternRecognizer, han_except
from nlp_guard.pii.ner import get_ner, merge_with_ner, without_ner

#: Compound surnames first so the alternation prefers them over their first char.
COMPOUND_SURNAMES: tuple[str, ...] = (
    "欧阳", "司马", "诸葛", "上官", "东方", "慕容", "夏侯", "皇甫", "尉迟", "公孙", "令狐", "宇文", "长孙", "司徒", "端木", "独孤",
)
#: About two hundred of the most common single-character surnames.
SINGLE_SURNAMES: str = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金"
    "石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章"
    "鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾"
    "尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲"
)
SURNAMES: frozenset[str] = frozenset(SINGLE_SURNAMES) | frozenset(COMPOUND_SURNAMES)

#: Single characters that end a given name: particles, pronouns and verbs
#: that follow a name in collection talk ("刘强已经", "李秀英的").
_NAME_STOP = "的地得了着过是在和与跟同及或也都就还又才已要会能把被让叫给对向从到去来说讲问打欠借钱元块你我他她它们这那哪谁吗呢吧啊呀哦嘛啦不没有无很太请"
#: Words that start right after a name; a name character may not begin one,
#: so "张小明" keeps 小 but "李建国先生" stops before 先生.
STOP_WORDS: tuple[str, ...] = (
    "先生", "女士", "小姐", "老师", "经理", "律师", "同志", "总监", "电话", "手机", "号码", "家里", "公司", "单位",
    "今天", "明天", "昨天", "后天", "现在", "马上", "立刻", "赶紧", "赶快", "欠款", "借款", "还款", "必须", "应该",
    "已经", "可以", "知道", "告诉", "一下", "一起", "一定", "所以", "因为", "如果", "但是", "今年", "明年", "这个",
    "那个", "什么", "怎么", "自己", "本人", "名下", "逾期", "上门", "起诉", "全家",
)
_NOT_STOP = "(?!" + "|".join(STOP_WORDS) + ")"
_HAN = regex.compile(r"\p{Han}")
_GIVEN = _NOT_STOP + han_except(_NAME_STOP)
_SURNAME = _NOT_STOP + "(?:" + "|".join(COMPOUND_SURNAMES) + "|[" + SINGLE_SURNAMES + "])"
_NAME = rf"(?P<pii>{_SURNAME}(?:{_GIVEN}){{1,2}})"
_HONORIFIC = "(?:先生|女士|小姐|同志|老师|律师|经理|总监)"
#: A conjunction before an honorific name is not its surname ("和张三先生").
_CONJ = rf"(?:[和与跟对给同找](?={_SURNAME}(?:{_GIVEN}){{1,2}}{_HONORIFIC}))?"

KINSHIP: tuple[str, ...] = (
    "老婆", "老公", "妻子", "丈夫", "爱人", "媳妇", "儿子", "女儿", "父亲", "母亲", "爸爸", "妈妈", "老爸", "老妈",
    "哥哥", "姐姐", "弟弟", "妹妹", "爷爷", "奶奶", "外公", "外婆", "岳父", "岳母", "公公", "婆婆", "儿媳", "女婿",
    "舅舅", "姑姑", "叔叔", "阿姨", "表哥", "表姐", "表弟", "表妹", "堂哥", "堂弟", "亲戚", "家人", "配偶",
)
ROLES: tuple[str, ...] = (
    "法定代表人", "法人代表", "法人", "担保人", "保证人", "联系人", "紧急联系人", "借款人", "债务人", "共同借款人",
    "户主", "收款人", "持卡人", "负责人", "经办人", "当事人", "同事", "朋友", "领导", "老板", "室友", "邻居",
)
_LINK = r"(?:是|叫|名叫|叫做|为|[:：])?\s?"
#: What follows a name that opens a profile or a case file: "费正清是一位73岁的男性", "林达，23岁",
#: "王芳，女，". Only at the start of a clause, so "下载安装，18岁以上" is not "安装" and "32周岁，女，"
#: not "周岁"; a bare 男/女, so "白人，女性，" is not a profile.
_PROFILE = r"(?=[,，]?\s?(?:是一[位名]|现年|今年)?\d{1,3}岁|[,，(（]\s?[男女][,，、)）\s])"


def _alternation(words: tuple[str, ...]) -> str:
    """Longest first so "紧急联系人" wins over "联系人"."""
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


class PersonRecognizer(PatternRecognizer):
    """Names are only reported next to a word that introduces a person.

    A bare surname+given-name scan would flag ordinary words ("高明", "张开"),
    so every pattern is anchored: kinship and role words score highest, an
    honorific or "姓名" label less. Given names are 1-2 characters and stop at
    common function characters; names longer than 3 characters are missed.
    """

    ENTITY: ClassVar[str] = "person"
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern("person_kinship", rf"{_alternation(KINSHIP)}{_LINK}{_NAME}", 0.65),
        Pattern("person_role", rf"{_alternation(ROLES)}{_LINK}{_NAME}", 0.65),
        Pattern("person_label", rf"(?:姓名|名字|户名|本人)(?:是|叫|为)?[:：]?\s?{_NAME}", 0.55),
        Pattern("person_honorific", rf"{_CONJ}{_NAME}(?={_HONORIFIC})", 0.4),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("欠款", "借款", "逾期", "还款", "身份证", "户籍")
    CONTEXT_WINDOW: ClassVar[int] = 10

    def invalidate_result(self, pattern_text: str) -> str | None:
        """A kinship word caught as a name ("张老婆") is not a name."""
        if pattern_text[1:] in KINSHIP or pattern_text in KINSHIP or pattern_text in ROLES:
            return "kinship word, not a name"
        return None


class NerPersonRecognizer(PersonRecognizer):
    """v2: names found by the trained NER anywhere in a text; the anchored patterns of v1 boost them.

    "陶立轩是一位62岁的男性" has no anchor word, so v1 misses it. An entity the NER marks as PER
    scores ``NER_SCORE``; one an anchored pattern also finds scores higher; an anchored match the
    NER missed is still reported. Kinship, role and appellation words alone are never names.
    """

    VERSION: ClassVar[int] = 2
    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        *PersonRecognizer.PATTERNS,
        Pattern("person_profile", rf"(?<![\p{{Han}}\d]){_NAME}{_PROFILE}", 0.55),
    )
    NER_SCORE: ClassVar[float] = 0.6
    AGREE_BOOST: ClassVar[float] = 0.15

    def name_ends_at(self, text: str, end: int) -> bool:
        """A name can end here: at the end, before a non-Han character, a stop character or a stop word.

        "柯世腾是一位" ends before 是; "张三明确表示" has no such end after 明, so the NER's "张三" stands.
        """
        if end >= len(text) or not _HAN.match(text[end]) or text[end] in _NAME_STOP:
            return True
        return text.startswith(STOP_WORDS, end)

    def is_name(self, value: str) -> bool:
        """A PER span that can be a name: two or more characters, not a role or kinship word."""
        core = value.strip()
        return (len(core) >= 2 and not any(ch.isdigit() for ch in core)
                and core not in KINSHIP and core not in ROLES and core not in STOP_WORDS
                and self.invalidate_result(core) is None)

    def analyze(self, text: str, keep_invalid: bool = False) -> list[Finding]:
        """NER spans merged with the anchored patterns (see :func:`merge_with_ner`)."""
        anchored = super().analyze(text, keep_invalid)
        model = get_ner()
        if model is None:
            return without_ner(anchored)
        names = [e for e in model.entities(text) if e.label == "PER" and self.is_name(text[e.start:e.end])]
        return merge_with_ner(text, anchored, names, label=self.ENTITY, score=self.NER_SCORE,
                              agree_boost=self.AGREE_BOOST, context=self)
