"""Training and evaluation data for the NER pipeline (PER, ORG, LOC).

Sources, all read at run time from ``../shared/data`` (never copied into the repo):

- Weibo NER, 2nd revision (CC BY-SA 3.0): named mentions only; GPE and LOC both become LOC.
- Chinese-Names-Corpus (Apache-2.0): surnames weighted by frequency, and appellation roots (称谓) as
  hard negatives.
- The authored collection corpus, TRAIN split agent lines only: their ``{name}``/``{contact}``/``{company}``
  placeholders are filled again here with tracked spans, and names are added as greetings and signatures.

multipriv_pii_zh (CC BY-NC-SA) and the Weibo test split are evaluation only and are not read here.
"""
from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
WEIBO = SHARED / "weibo_ner"
NAMES = SHARED / "chinese_names_corpus"
CORPUS = Path(__file__).resolve().parent / "data"

LABELS = ("PER", "ORG", "LOC")
#: Weibo types → our labels; nominal mentions (NOM: 女人, 老师) are not names and stay O.
WEIBO_LABELS = {"PER.NAM": "PER", "ORG.NAM": "ORG", "GPE.NAM": "LOC", "LOC.NAM": "LOC"}


@dataclass(frozen=True, slots=True)
class Example:
    """A text with character-offset entity spans ``(start, end, label)``."""

    text: str
    spans: tuple[tuple[int, int, str], ...]
    source: str


def read_weibo(split: str, root: Path = WEIBO) -> list[Example]:
    """One Example per Weibo message; only named mentions are kept."""
    path = root / f"weiboNER_2nd_conll.{split}.txt"
    if not path.exists():
        raise FileNotFoundError(f"Weibo NER split {split!r} not found at {path}")
    out: list[Example] = []
    chars: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if chars:
            out.append(Example("".join(chars), tuple(_bio_spans(tags)), f"weibo/{split}"))
        chars.clear()
        tags.clear()

    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            flush()
            continue
        token, tag = line.rsplit("\t", 1)
        ch = re.sub(r"\d+$", "", token) or token
        chars.append(ch if len(ch) == 1 else ch[0])
        tags.append(tag)
    flush()
    return out


def _bio_spans(tags: list[str]) -> Iterator[tuple[int, int, str]]:
    start, label = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        if label and not (tag.startswith("I-") and tag[2:] == label):
            mapped = WEIBO_LABELS.get(label)
            if mapped:
                yield (start, i, mapped)
            label = ""
        if tag.startswith("B-") or (tag.startswith("I-") and not label):
            start, label = i, tag[2:]


# -- names, organisations and places -------------------------------------------------------

#: Characters common in given names (authored; the names corpus snapshot has surnames only).
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华红玉萍建国志文斌鹏辉丹宇浩凯瑞婷雪琳晨阳佳欣博"
    "子轩梓涵一诺浩然宇航思远俊杰欣怡雨萱嘉懿晓东海燕春梅秋菊冬雪永福德胜金宝玲凤霖泽楷睿哲昊天翔鑫"
    "立新成荣庆忠良亮彬峰波毅刚兵彦璐颖慧倩蕾蓓莹洁薇琪瑶婉清淑贞惠珍丽娅丹妮雯悦怡璇琦晶莉蓉"
    "家豪振宁安康乐飞龙虎彪武林森松柏山川江河海涛云霄星辰月光明亮耀祥瑞福寿喜庆国庆建军卫东红兵"
)
#: Places for LOC spans and for organisation prefixes.
PLACES = (
    "北京", "上海", "天津", "重庆", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "长沙", "郑州", "济南",
    "青岛", "厦门", "福州", "合肥", "南昌", "昆明", "贵阳", "南宁", "海口", "沈阳", "大连", "长春", "哈尔滨", "石家庄",
    "太原", "呼和浩特", "兰州", "西宁", "银川", "乌鲁木齐", "拉萨", "温州", "宁波", "东莞", "佛山", "无锡", "常州", "徐州",
    "浙江", "江苏", "广东", "山东", "河南", "河北", "湖南", "湖北", "四川", "福建", "安徽", "江西", "云南", "贵州", "广西",
    "山西", "陕西", "辽宁", "吉林", "黑龙江", "甘肃", "海南", "内蒙古", "新疆", "西藏", "宁夏", "青海",
    "朝阳区", "浦东新区", "天河区", "南山区", "西湖区", "武侯区", "江北区", "鼓楼区", "高新区", "滨江区",
)
_ORG_CORE = (
    "华信", "鑫达", "宏远", "恒通", "金源", "盛世", "博远", "安达", "润华", "新锐", "天成", "鼎盛", "聚丰", "众诚", "汇通",
    "瑞丰", "中信", "永利", "佳禾", "长江", "东方", "海天", "致远", "融创", "德润", "广发", "宝丰", "兴业", "恒昌", "国信",
)
_ORG_TRADE = ("科技", "贸易", "建材", "物流", "建筑工程", "电子", "食品", "装饰工程", "医疗器械", "置业", "传媒", "纺织", "钢构",
              "信息技术", "商贸", "投资", "网络科技", "融资担保", "小额贷款", "资产管理", "商务咨询", "汽车销售")
_ORG_SUFFIX = ("有限公司", "有限责任公司", "股份有限公司", "集团", "公司", "厂")
_BANKS = ("中国工商银行", "中国建设银行", "中国农业银行", "中国银行", "交通银行", "招商银行", "浦发银行", "兴业银行", "中信银行",
          "民生银行", "平安银行", "华夏银行", "光大银行", "广发银行", "邮储银行")
_LENDERS = ("招联消费金融有限公司", "马上消费金融股份有限公司", "中原消费金融", "兴业消费金融", "平安普惠", "捷信消费金融",
            "众安小贷", "度小满金融")
#: Lending products: not organisations, left unlabelled.
_PRODUCTS = ("借呗", "微粒贷", "京东金条", "360借条", "分期乐", "安逸花", "有钱花", "省呗", "小赢卡贷", "洋钱罐")


@dataclass(frozen=True)
class Vocab:
    """Surname and appellation lists from Chinese-Names-Corpus."""

    surnames: tuple[str, ...]
    weights: tuple[float, ...]
    appellations: tuple[str, ...]

    @classmethod
    def load(cls, root: Path = NAMES) -> Vocab:
        path = root / "chinese_family_names.csv"
        if not path.exists():
            raise FileNotFoundError(f"chinese_names_corpus not found at {root}")
        rows = [(r["surname"], float(r["tf"])) for r in csv.DictReader(path.open(encoding="utf-8")) if r["surname"]]
        apps = [w.strip() for w in (root / "chinese_appellation_roots.txt").read_text("utf-8").splitlines()]
        return cls(tuple(s for s, _ in rows), tuple(max(w, 1.0) for _, w in rows),
                   tuple(a for a in apps if a and re.fullmatch(r"[\u4e00-\u9fff]{1,4}", a)))

    def name(self, rng: random.Random) -> str:
        """A surname by frequency, then one or two given-name characters."""
        surname = rng.choices(self.surnames, self.weights)[0]
        return surname + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))


def org_name(rng: random.Random) -> str:
    """A company, bank branch or lender name."""
    kind = rng.random()
    if kind < 0.2:
        return rng.choice(_BANKS) + (rng.choice(PLACES[:40]) + "分行" if rng.random() < 0.4 else "")
    if kind < 0.3:
        return rng.choice(_LENDERS)
    prefix = rng.choice(PLACES[:45]) if rng.random() < 0.6 else ""
    return prefix + rng.choice(_ORG_CORE) + rng.choice(_ORG_TRADE) + rng.choice(_ORG_SUFFIX)


class Builder:
    """Builds a text from pieces while recording entity spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, str]] = []
        self.pos = 0

    def add(self, text: str, label: str | None = None) -> Builder:
        if label:
            self.spans.append((self.pos, self.pos + len(text), label))
        self.parts.append(text)
        self.pos += len(text)
        return self

    def example(self, source: str) -> Example:
        return Example("".join(self.parts), tuple(self.spans), source)


_SLOT = re.compile(r"\{(PER|ORG|LOC|ID|AMOUNT|DAYS|PHONE|APP|APPELL|PRODUCT)\}")

#: Templates: greetings, 转告, 身份证号, 紧急联系人, signatures, enterprise letters, profiles.
TEMPLATES = (
    "{PER}您好，您在{PRODUCT}的借款{AMOUNT}已逾期{DAYS}天，请尽快处理。",
    "尊敬的{PER}先生，您好！",
    "{PER}女士，您的账单已出，请按时还款。",
    "您好，请问是{PER}本人吗？",
    "喂，是{PER}吗？我这边是{ORG}的。",
    "麻烦您转告{PER}尽快回电，谢谢。",
    "请帮忙转告一下{PER}，让他给我们回个电话。",
    "您是{PER}的紧急联系人，麻烦您提醒他接听电话。",
    "{PER}把您留作紧急联系人，他最近联系不上。",
    "借款人{PER}，身份证号{ID}，欠款{AMOUNT}。",
    "{PER}，身份证号码：{ID}，请核对本人信息。",
    "持卡人{PER}（证件号{ID}）名下信用卡已逾期。",
    "本人{PER}，身份证{ID}，申请延期还款。",
    "{PER}是一位{DAYS}岁的客户，住在{LOC}。",
    "{PER}，男，{DAYS}岁，现居{LOC}。",
    "{PER}今年{DAYS}岁，在{ORG}上班。",
    "{PER}在{LOC}工作，联系电话{PHONE}。",
    "——{ORG}客服专员{PER}",
    "{ORG}贷后管理部 {PER} 电话{PHONE}",
    "此致，{ORG}法务部{PER}",
    "我是{ORG}的{PER}，工号{DAYS}。",
    "经办人：{PER}，联系电话：{PHONE}。",
    "债权人{ORG}与借款人{PER}签订的借款合同约定按月还款。",
    "{ORG}为本笔借款提供连带责任保证，担保人{PER}。",
    "贵司{ORG}作为保证人，应在{DAYS}日内履行保证责任。",
    "{ORG}与{ORG}签订的融资合同项下贷款已到期。",
    "出借人：{ORG}；借款人：{PER}；保证人：{PER}。",
    "请{PER}于{DAYS}日前到{ORG}{LOC}营业部办理。",
    "{PER}和{PER}都是这笔借款的共同借款人。",
    "我们已联系{PER}的{APPELL}，请您本人尽快处理。",
    "{PER}说他下周在{LOC}出差，回来再还。",
    "您好，我是{PER}，您的专属客服。",
    "{PER}：{AMOUNT}，{PER}：{AMOUNT}，以上为本月还款名单。",
    "关于{PER}在{ORG}的贷款，请{APPELL}联系我们。",
)
#: Hard negatives: 称谓 and 职位 alone, place names, words that start with a surname character.
NEGATIVES = (
    "请问您是{APPELL}吗？", "{APPELL}您好，打扰您了。", "我们{APPELL}说会尽快处理。", "客户经理会再联系您。",
    "催收专员已经把材料交给主管了。", "请法务专员核对一下合同。", "您好，这里是客服中心，请问有什么可以帮您？",
    "他很高明，早就知道了。", "请张开嘴，医生要检查一下。", "明天我们去{LOC}。", "我们在{LOC}有营业网点。",
    "今天天气不错，记得按时还款。", "周末请王先生回个电话。", "李总说合同下周寄出。", "老师您好，我是家长。",
    "黄金价格下跌，白银也在跌。", "方便的话请马上还款。", "高速上堵车了，晚点到。", "这个方案很周到。",
    "请于{DAYS}日前还款，金额{AMOUNT}。", "您的{PRODUCT}账单已出。", "经理、主任、科长都开会去了。",
    "您的还款已入账，感谢您的配合。", "请核对您在{PRODUCT}的还款计划。",
)


def _fill(template: str, vocab: Vocab, rng: random.Random, source: str) -> Example:
    b = Builder()
    pos = 0
    for m in _SLOT.finditer(template):
        b.add(template[pos:m.start()])
        slot = m.group(1)
        if slot == "PER":
            b.add(vocab.name(rng), "PER")
        elif slot == "ORG":
            b.add(org_name(rng), "ORG")
        elif slot == "LOC":
            b.add(rng.choice(PLACES), "LOC")
        elif slot == "ID":
            b.add("".join(rng.choice("0123456789") for _ in range(17)) + rng.choice("0123456789X"))
        elif slot == "PHONE":
            b.add("1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9)))
        elif slot == "AMOUNT":
            b.add(f"{rng.randint(3, 900) * 100}元")
        elif slot == "DAYS":
            b.add(str(rng.randint(3, 90)))
        elif slot == "APPELL":
            b.add(rng.choice(vocab.appellations[:300]))
        else:
            b.add(rng.choice(_PRODUCTS))
        pos = m.end()
    b.add(template[pos:])
    return b.example(source)


def template_examples(vocab: Vocab, rng: random.Random, per_template: int = 25) -> list[Example]:
    out = [_fill(t, vocab, rng, "template") for t in TEMPLATES for _ in range(per_template)]
    out += [_fill(t, vocab, rng, "negative") for t in NEGATIVES for _ in range(max(1, per_template // 3))]
    out += [Example(a, (), "appellation") for a in rng.sample(vocab.appellations, min(400, len(vocab.appellations)))]
    return out


_PLACEHOLDER = re.compile(r"\{(name|contact|amount|platform|company|days|date)\}")


def _authored() -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted((CORPUS / "authored").rglob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts[row["id"]] = row["text"]
    return texts


def _split_ids(name: str) -> set[str]:
    return {json.loads(line)["base_id"] for line in (CORPUS / f"{name}.jsonl").read_text("utf-8").splitlines() if line.strip()}


def corpus_examples(vocab: Vocab, rng: random.Random) -> list[Example]:
    """Agent lines of the TRAIN split, their placeholders filled with tracked names and companies.

    A line without a placeholder gets a greeting or signature with a name one time in three and
    is otherwise a negative (collection vocabulary is not a name).
    """
    authored = _authored()
    held_out = _split_ids("dev") | _split_ids("test")
    rows = [json.loads(line) for line in (CORPUS / "train.jsonl").read_text("utf-8").splitlines() if line.strip()]
    base_ids = sorted({r["base_id"] for r in rows if r.get("speaker", "agent") == "agent" and r["base_id"] in authored})
    out: list[Example] = []
    for base_id in base_ids:
        if base_id in held_out:
            raise ValueError(f"{base_id} is in train and in dev/test; the NER corpus must use train lines only")
        text = authored[base_id]
        b = Builder()
        has_slot = bool(_PLACEHOLDER.search(text))
        if not has_slot and rng.random() < 1 / 3:
            b.add(rng.choice(("", "您好，", "喂，", "尊敬的")))
            b.add(vocab.name(rng), "PER")
            b.add(rng.choice(("，", "：", "先生，", "女士，", " ")))
        pos = 0
        for m in _PLACEHOLDER.finditer(text):
            b.add(text[pos:m.start()])
            kind = m.group(1)
            if kind in ("name", "contact"):
                b.add(vocab.name(rng), "PER")
            elif kind == "company":
                b.add(org_name(rng), "ORG")
            elif kind == "platform":
                b.add(rng.choice(_PRODUCTS))
            elif kind == "amount":
                b.add(f"{rng.randint(5, 999) * 100}元")
            elif kind == "days":
                b.add(str(rng.randint(3, 180)))
            else:
                b.add(f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日")
            pos = m.end()
        b.add(text[pos:])
        if not has_slot and rng.random() < 0.1:
            b.add(rng.choice(("——", " ", "【"))).add(org_name(rng), "ORG").add(rng.choice(("", "】", "客服")))
        out.append(b.example(f"corpus/{base_id}"))
    return out
