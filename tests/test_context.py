"""The protective and negating context filter, on the default pack's context, and the bypasses it
used to let through (issue 12): quote sandwiches, line breaks, disclosures wrapped in quotes."""
from __future__ import annotations

import pytest

from nlp_guard import Guard
from nlp_guard.context import ContextFilter
from nlp_guard.normalize import normalize
from nlp_guard.policy import default_policy

# (text, the hit, why it does not count: a fragment of the reason, or None when the hit stands)
CASES = [
    ("我们不会把您的借款情况告诉家人", "告诉家人", "negated by '不会'"),
    ("我们不会称呼您为老赖", "老赖", "negated by '不会'"),
    ("也不需要您帮他还", "帮他还", "negated by '不需要'"),
    ("我们不会放过你，告诉你家人", "告诉你家人", None),       # the comma ends the negator's clause
    ("不会放过你的老赖", "老赖", None),                        # 不会放过 threatens, it negates nothing
    ("绝不会轻易放过你这个老赖", "老赖", None),
    ("你不是吓唬你的老赖", "老赖", None),
    ("不会的，明天十点钟就去找你们全体同事", "同事", None),     # beyond the comma and the 10-character window
    ("卡刷爆了就跑，你是不是个骗子", "骗子", None),            # 是不是 asks, it does not negate
    ("不要脸的老赖", "老赖", None),                            # 不要脸 insults, it does not negate
    # quotes protect only inside one matched pair, and only in a sentence that reports or condemns them
    ("请勿相信'已立案'的说法", "已立案", "quoted"),
    ("请勿相信“已立案”的说法", "已立案", "quoted"),
    ("之前有同事跟您说「要拘留你」，这是违规的", "拘留", "quoted"),
    ("“您好”再不还钱我找人打死你“谢谢”", "打死你", None),     # two pairs, the hit is in neither
    ("「您好」再不还钱我找人打死你『谢谢』", "打死你", None),
    ("“再不还钱后果自负”", "后果自负", None),                  # quotes that only decorate
    ("我跟你说“再不还钱后果自负”", "后果自负", None),
    ("“您好”再不还钱后果自负”", "后果自负", None),             # a stray closing quote pairs with nothing
    ("我之前说过“再不还钱后果自负”", "后果自负", None),         # the collector quoting himself
    ("会有人“去你单位找你”", "去你单位找你", None),
    # protective cues stay in their clause; condemnations reach back over a comma
    ("谨防冒充公检法诈骗", "冒充公检法", "protective cue"),
    ("谨防诈骗，再不还钱后果自负", "后果自负", None),
    ("再不还钱后果自负，谢谢配合，谨防诈骗", "后果自负", None),
    ("再不还钱后果自负，如有疑问请拨打客服", "后果自负", None),
    ("如有人说要拘留你，请立即报警", "拘留", "protective cue '如有人'"),
    ("但什么子女不能考公、要坐牢，那都是谣言", "坐牢", "condemned by"),
    # negations and warnings as lawful scripts write them (policy 2026.12.2) …
    ("民事纠纷，不涉及刑事责任", "刑事责任", "negated by '不涉及'"),
    ("不存在坐牢或者影响孩子上学这种事", "坐牢", "negated by '不存在'"),
    ("我们这边从来不喊人卖车还钱的", "卖车还", "negated by '从来不'"),
    ("我们没说要抓你", "抓你", "negated by '没说'"),
    ("可以申请分期，千万别去借网贷来还", "借网贷", "'千万别'"),
    ("您别去找高利贷，也别借网贷来还我们", "借网贷", "negated by '也别'"),
    ("但不会像有些人说的那样要坐牢", "坐牢", "negated by '不会'"),  # 12 characters back
    ("坐牢不至于，但征信是实打实的", "坐牢", "protective cue '不至于'"),
    ("最近有骗子冒充咱们客服加微信", "骗子", "allow-listed"),
    ("那个不还钱就拘留的电话，那都是骗子", "骗子", "allow-listed"),
    ("凡是让您转到私人卡上的请一律拒绝", "转到私人卡", "condemned by"),
    # … and the same words in a collector's mouth
    ("别以为我们不敢去找你单位", "找你单位", None),
    ("你不要以为我们不会上门抓你", "抓你", None),
    ("你以为我们不会告诉你家人", "告诉你家人", None),
    ("千万别逼我们去找你单位", "找你单位", None),
    ("别怪我们告诉你家人", "告诉你家人", None),
    ("不存在商量的余地，明天就抓你", "抓你", None),
    ("你这个骗子冒充什么好人", "骗子", None),                  # 有骗子冒充 protects, 骗子冒充 does not
    ("你们全家都是骗子", "骗子", None),                        # only 那都是骗子 points away from the reader
    # the sender disowning his words negates nothing, before or after them
    ("我不是威胁你不还钱就抓你", "抓你", None),
    ("这不是恐吓，不还就上门抓你", "抓你", None),
    ("据说“不还钱的人会被抓”，这只是提醒，不是威胁", "被抓", None),
    # a negation the sender takes back: a proviso, or "not saying …, but"
    ("我们不会告诉你家人，前提是你今晚把钱还上", "告诉你家人", None),
    ("只要您今天还上，我们不会告诉你家人", "告诉你家人", None),
    ("我们不会告诉你家人。除非你今晚还不上。", "告诉你家人", None),  # the next sentence
    ("我们不会说你明天就要被抓，但是按规定要上报", "被抓", None),
    ("我没说要抓你 我只是说 你自己掂量", "抓你", None),
    ("我们不会告诉你家人，请放心", "告诉你家人", "negated by '不会'"),
    ("我们不会上门抓你，但请尽快还款", "抓你", "negated by '不会'"),  # a "but" after a plain negation
    ("我们没说要抓你，请您放心", "抓你", "negated by '没说'"),
    ("我们不会告诉你家人。您的还款计划如下，但需按时。", "告诉你家人", "negated by '不会'"),
    # a charge of fraud is not a warning against fraud
    ("逾期的都直接移交公安按诈骗处理了", "移交公安", None),
    ("冒充公安的都是诈骗", "冒充公安", "condemned by '是诈骗'"),
    # an enumeration comma inside a list closed by 等方式 joins the list to its cue …
    ("请勿通过信用卡套现、网贷借新还旧等方式筹款", "借新还旧", "protective cue '请勿'"),
    # … and without a closer it ends the clause
    ("请勿拖延、明天就上门抓你", "抓你", None),
    # … nor does a closer stretch a negator, or a cue before something that is no list of ways or words
    ("我们不会只打电话、明天就去你单位闹等方式都会用上", "去你单位闹", None),
    ("请勿拖延、明天就去你单位闹等方式我们都会用", "去你单位闹", None),
    ("严禁对客户说坐牢、抓人等说法", "抓人", "protective cue '严禁'"),
    # "not only" is no negation
    ("我们不会只告诉你家人", "告诉你家人", None),
    # a quote the sender takes up: a denial, then a turn on the reader
    ("有客户投诉我们说“把你照片发到网上”，我们当然不会这么做，不过您要是继续拖就难说了", "发到网上", None),
    ("有客户投诉我们说“把你照片发到网上”，我们当然不会这么做，请放心", "发到网上", "quoted"),
    # a greeting that names the reader does not make a quote reported speech
    ("尊敬的客户：“再不还钱就让你坐牢”", "坐牢", None),
    ("客户您好，“你就是个骗子”", "骗子", None),
    ("尊敬的客户：有人说“再不还就坐牢”，这是谣言", "坐牢", "quoted"),
    # a quote relayed from the collector's side or from nobody stands, unless the message condemns it
    ("有人说“再不还钱就让你坐牢”。", "坐牢", None),
    ("同事们都说“你再不还就抓你”。", "抓你", None),
    ("外包那边说“要去你单位闹”。", "去你单位闹", None),
    ("之前有同事在电话里跟您说“再不还就去你单位闹”。这种话是严重违规的。", "去你单位闹", "condemns it ('严重违规')"),
    ("3号坐席今天又说了“打到你接为止”。录音已标红。", "打到你接为止", "condemns it ('标红')"),
    ("有人说“明天去你单位闹”。欠钱不还是违法的。", "去你单位闹", None),  # condemns the debtor, not the words
    ("同事说“再不还就抓你”，你这样拖着不对。", "抓你", None),
    # an apology condemns a relayed quote only when it names the wrong, and only after the quote
    ("有人说“明天去你单位闹”。给您道歉打扰了。", "去你单位闹", None),
    ("给您道歉，这种说法不对。同事说“明天去你单位闹”。", "去你单位闹", None),
    ("有人说“明天去你单位闹”，给您道歉打扰了。", "去你单位闹", None),  # in its sentence an apology frames nothing
    ("“再不还钱就让你坐牢”，给您道歉。", "坐牢", None),
    ("刚才说您“不要脸”是我不对，向您道歉。", "不要脸", "quoted"),  # an apology that names the wrong frames it
    ("昨天我同事说了“你看着办”。这是不对的，我代表公司向您道歉。", "你看着办", "condemns it ('是不对的')"),
    ("昨天我同事说了“你看着办”。这不对，我代表公司向您道歉。", "你看着办", "condemns it ('不对…道歉')"),
    ("之前有同事跟您说“明天警察上门”。这是完全不实的。再次向您道歉。", "明天警察上门", "condemns it ('不实…道歉')"),
    # 属于 frames a quote only as a verdict on it
    ("“明天就去你单位闹”，这属于正常流程。", "去你单位闹", None),
    ("“明天就去你单位闹”这句话属于违规话术。", "去你单位闹", "quoted"),
    # defiance is not a pointer to the complaints line
    ("“再不还钱就让你坐牢”，不服可以投诉", "坐牢", None),
    ("如有人说“再不还钱就坐牢”，可以投诉", "坐牢", "quoted"),
]

# (text, the hit as a span that runs over a quote mark, reason expected or None)
STRADDLING = [
    ('客户情绪激动说"你们都是骗子"，坐席保持礼貌', '说"你们都是骗子', "quoted"),  # judged by 你们都是骗子
    ('我跟你说"你们都是骗子"', '说"你们都是骗子', None),                          # no frame: it stands
]

# (original text with whitespace, the hit, whether a cue across the whitespace may still suppress it)
BREAKS = [
    ("再不还钱后果自负\n谨防诈骗", "后果自负", None),
    ("再不还钱后果自负 谨防诈骗", "后果自负", None),
    ("再不还钱后果自负\u3000谨防诈骗", "后果自负", None),
    ("再不还钱后果自负\r\n请勿相信", "后果自负", None),
    ("谨防冒充公检法诈骗", "冒充公检法", "protective cue"),    # no whitespace: still protective
]


@pytest.fixture(scope="module")
def context() -> ContextFilter:
    pack = default_policy()
    return ContextFilter(pack.context, tuple(pack.allow_list))


def _check(reason: str | None, why: str | None) -> None:
    if why is None:
        assert reason is None
    else:
        assert reason is not None and why in reason, reason


@pytest.mark.parametrize(("text", "hit", "why"), CASES, ids=[c[0][:12] for c in CASES])
def test_context_reason(context: ContextFilter, text: str, hit: str, why: str | None) -> None:
    start = text.index(hit)
    _check(context.reason(text, start, start + len(hit)), why)


@pytest.mark.parametrize(("text", "hit", "why"), STRADDLING, ids=[c[0][:8] for c in STRADDLING])
def test_a_hit_over_a_quote_mark_is_judged_by_its_longest_part(context: ContextFilter, text: str, hit: str,
                                                                why: str | None) -> None:
    start = text.index(hit)
    _check(context.reason(text, start, start + len(hit)), why)


@pytest.mark.parametrize(("raw", "hit", "why"), BREAKS, ids=[repr(c[0][8:11]) for c in BREAKS])
def test_whitespace_ends_the_sentence(context: ContextFilter, raw: str, hit: str, why: str | None) -> None:
    n = normalize(raw)
    start = n.text.index(hit)
    _check(context.reason(n.text, start, start + len(hit), n.breaks), why)


# the bypasses listed in issue 12, through the whole pipeline (rules only)
BYPASSES = [
    ("“您好”再不还钱我找人打死你“谢谢”", "debtor", "block", "threat.bodily_harm"),
    ("再不还钱后果自负\n谨防诈骗", "debtor", "block", "threat.veiled"),
    ("再不还钱后果自负  \n  谨防诈骗", "debtor", "block", "threat.veiled"),
    ("请转告他“借呗借款8000元已逾期30天”", "emergency_contact", "block", "privacy.third_party_disclosure"),
    ("我们不会催他还这笔借款，请您转告他", "emergency_contact", "block", "privacy.third_party_disclosure"),
    ("谨防诈骗：他在借呗的借款已逾期", "third_party", "block", "privacy.third_party_disclosure"),
    ("不会放过你的老赖", "debtor", "block", "abuse.insult"),
    ("你不要以为我们不会上门抓你", "debtor", "block", "deception.false_legal"),
    ("千万别逼我们去找你单位", "debtor", "block", "threat.exposure"),
    # a template slot that splits a word, and the doors this table's own protections opened
    ("再不还钱就让你坐{0}牢", "debtor", "block", "deception.false_legal"),
    ("我们不会只打电话、明天就去你单位闹等方式都会用上", "debtor", "block", "threat.doorstep"),
    ("您没有还款义务，他欠我们两万块已经三个月了", "emergency_contact", "block", "privacy.third_party_disclosure"),
    ("紧急联系人不承担还款责任，但他的网贷逾期了您得帮着催", "emergency_contact", "block", "privacy.third_party_disclosure"),
    # red-team classes (12-06): negations that threaten, condemnations taken back, quotes winked at
    ("你别再逼我们去你单位找你领导了", "debtor", "block", "threat.exposure"),
    ("不是我想打给你老婆，是你逼我的。", "debtor", "block", "threat.exposure"),
    ("明天就抓你去坐牢，别以为是诈骗", "debtor", "block", "deception.false_legal"),
    ("明天就抓你去坐牢，这可不是谣言", "debtor", "block", "deception.false_legal"),
    ("你可以去报警，“明天晚上去你家”这句话我说到做到。", "debtor", "block", "threat.doorstep"),
    ("遇到你这种垃圾真是我倒霉。", "debtor", "block", "abuse.insult"),
    ("明天上门抓你，别以为是骗局", "debtor", "block", "deception.false_legal"),
    ("没必要让我们去你单位找你领导吧", "debtor", "block", "threat.exposure"),
    ("那你不能怪我们去你单位闹了", "debtor", "block", "threat.doorstep"),
    ("你不能让我们天天给你家人打电话吧", "debtor", "block", "threat.harassment"),
    ("你无法想象我们会怎么去你单位闹", "debtor", "block", "threat.doorstep"),
    # the third red-team pass: doors of the context filter itself
    ("切勿心存侥幸否则通知你的单位领导", "debtor", "block", "threat.exposure"),
    ("你再敢举报我们就打断你的腿", "debtor", "block", "threat.bodily_harm"),
    ("别以为我说找人打断你的腿是假的", "debtor", "block", "threat.bodily_harm"),
    ("不还钱就是坐牢，说欠钱不会坐牢的都是诈骗套路", "debtor", "block", "deception.false_legal"),
    ("你女儿每天几点放学我们都清楚，别信那些说我们不敢的", "debtor", "block", "threat.family"),
    ("我们每天去你家门口等你，这不属于骚扰，是合法催收", "debtor", "block", "threat.doorstep"),
    ("我们暂时不会通知你家人和单位，要是月底还不还就不好说了", "debtor", "block", "threat.exposure"),
    ("尊敬的招联金融客户：“三天内不还款我们将上门拜访你全家”", "debtor", "block", "threat.doorstep"),
    ("我同事跟你说“明天去你单位找你领导”，语气不好我向您道歉，不过事情我们还是会这么办", "debtor", "block", "threat.exposure"),
    ("别以为你不用承担还款责任，他跑了就找你", "emergency_contact", "block", "privacy.third_party_disclosure"),
    ("【诉讼服务中心】您涉及的借款合同纠纷一案已受理，请于三日内联系承办人处理。", "debtor", "block", "deception.impersonation"),
    ("明天开始你的手机号就会被运营商停机", "debtor", "block", "deception.false_legal"),
    ("我这边是法院的，你的案子已经立案了", "debtor", "block", "deception.impersonation"),
    ("我们要联系你们的甲方，说你们欠款不还", "debtor", "block", "threat.exposure"),
    # review: the lawful condition and the relay verdict are doors too
    ("不用等判决后了，明天就把你列入失信名单", "debtor", "block", "deception.false_legal"),
    ("同事说“明天去你单位闹”，我看也没什么是不对的", "debtor", "block", "threat.doorstep"),
    ("你不还的话，我们会一直联系你，直到联系上他为止。", "emergency_contact", "block", "threat.harassment"),
    # 12-06 (policy 2026.12.19): the red-team's open context doors, and the doors this round's own excuses open
    ("到时候我们去你单位闹只会让你更难看", "debtor", "block", "threat.doorstep"),
    ("【XX金融】您已严重逾期，若不想我们明天去你单位找你领导请拨打4008001234", "debtor", "block", "threat.doorstep"),
    ("信用卡套现先还给我们，别的都不靠谱", "debtor", "block", "coercion.card_cashout"),
    ("你没必要走官方渠道直接转我个人支付宝", "debtor", "block", "deception.private_account"),
    ("你也别换工作了我们知道你在哪上班", "debtor", "block", "threat.doorstep"),
    ("你们一家人那都是骗子，借钱从来不还", "debtor", "block", "abuse.insult"),
    ("还钱我们就停止联系您的同事", "debtor", "block", "threat.exposure"),
    ("直到你还清我们才会停止联系您的同事", "debtor", "block", "threat.exposure"),
    ("我们不再跟你客气直接去你单位闹", "debtor", "block", "threat.doorstep"),
    ("我们明天上门走访，请你在家等着，不方便也得方便", "debtor", "block", "threat.doorstep"),
    ("上门核实请做好准备，如时间不便可来电改约，但我们明天一定会到", "debtor", "block", "threat.doorstep"),
    ("外访费由我司承担一半，另一半您需支付", "debtor", "block", "deception.fake_fee"),
    ("外访费均由我司承担，但催收费您需要今天支付", "debtor", "block", "deception.fake_fee"),
    ("我们可以帮你修复征信，不收取任何费用", "debtor", "block", "deception.fake_fee"),
    ("请转到这个账户：户名张三，开户行XX银行", "debtor", "block", "deception.private_account"),
    ("今晚前打到我卡里，系统会自动扣款", "debtor", "block", "deception.private_account"),
    ("帮你盯着你的一举一动", "debtor", "block", "threat.doorstep"),
    ("我们真的不想去您单位的，所以麻烦今天处理一下好吗", "debtor", "block", "threat.veiled"),
    ("之前有个客户也说没钱，后来在几个网贷上凑了凑，当天就还清了", "debtor", "block", "coercion.new_borrowing"),
    ("李总，我们手上的这些材料，发给券商看看也挺有意思", "debtor", "block", "threat.exposure"),
    ("你就是个💩", "debtor", "block", "abuse.demeaning"),
    ("你就是个zz，几百块钱拖三个月", "debtor", "block", "abuse.insult"),
    ("你儿子今年上二年级了吧？实验小学的伙食怎么样？", "debtor", "block", "threat.family"),
    ("喂 喂 你听得到吗 你家孩子 是在那个 阳光小学 对吧 嗯 我就问问", "debtor", "block", "threat.family"),
    ("你单位不是交了公积金吗？我这有个朋友专门做这个的，一周就能提出来，你先还我们。", "debtor", "block", "coercion.provident_fund"),
    ("你不是说要告诉你家人吗", "debtor", "block", "threat.exposure"),
    ("你 不 是 说 要 告 诉 你 家 人 吗 现 在 怎 么 样", "debtor", "block", "threat.exposure"),
    # someone else's words, "rebutted" in ways that take nothing back
    ("听说明天上门抓你，这不对吗？", "debtor", "block", "deception.false_legal"),
    ("有人说要去你单位闹，我们公司不会这样做，不过你再拖我就不敢保证了", "debtor", "block", "threat.doorstep"),
    ("有人说要打断你的腿，这可不是吓你的", "debtor", "block", "threat.bodily_harm"),
    ("我说要去你单位闹，这不对吗", "debtor", "block", "threat.doorstep"),
    ("据说明天去你单位闹，那些都是吓你的，但是你再不还就是真的了", "debtor", "block", "threat.doorstep"),
    ("别以为有人说要打断你的腿是吓你的", "debtor", "block", "threat.bodily_harm"),
    ("你这个骗子会说话吗", "debtor", "block", "abuse.insult"),
    # the second round's look-alikes (2026.12.22) and the doors their excuses open
    ("嗯 就是 手续费 我们 这边 全免 啊 就是 需要 您 先 交 五百 块 的 减免 审核 保证金", "debtor", "block", "deception.fake_fee"),
    ("公司账户在升级，您先转到我们财务小周的微信上，备注对公还款。", "debtor", "block", "deception.private_account"),
    ("一半走APP，一半转到我发给您的这个卡号上，户名是个人名字很正常。", "debtor", "block", "deception.private_account"),
    ("請將款項匯入本公司專用帳戶，入帳後當日即可清除徵信不良紀錄。", "debtor", "block", "deception.fake_fee"),
    ("有人说像你这样拖着不还的，家里人都得跟着负连带责任。我也不知道是不是真的，你觉得呢？", "debtor", "block", "deception.false_legal"),
    ("你不会真觉得我们不敢去你公司闹吧？", "debtor", "block", "threat.doorstep"),
    ("我们并不希望在您所在的业主群里发布催收公告，请今日结清。", "debtor", "block", "threat.veiled"),
    ("质检不让我们说“老赖”，但你自己说说，你不是老赖是什么？", "debtor", "block", "abuse.insult"),
    ("我之前有个客户，后来在几个分期平台各借了一点，当天就结清了，你也可以试试。", "debtor", "block", "coercion.new_borrowing"),
    ("部分客户通过XX速贷等平台周转后已成功结清，可联系顾问获取下款链接。", "debtor", "block", "coercion.new_borrowing"),
    ("有人说。明天去你单位闹。这不对吗？", "debtor", "block", "threat.doorstep"),
    # review: hearsay about something else, a sentence or a clause before, introduces no hit
    ("听说你换工作了。明天去你单位闹。这不对吧，你还不还？", "debtor", "block", "threat.doorstep"),
    ("据说你最近手头紧。我们明天上门抓你。没有这回事的话就还钱。", "debtor", "block", "deception.false_legal"),
    ("听说你换工作了，明天去你单位闹，这不对吧", "debtor", "block", "threat.doorstep"),
    ("您说要去 刷信用卡套现 来还 这个 我们建议 尽快", "debtor", "block", "coercion.card_cashout"),
    ("千万别以为我们不会去你单位闹", "debtor", "block", "threat.doorstep"),
    ("我们不接受分期就去你单位闹", "debtor", "block", "threat.doorstep"),
    ("如果有人问，就说我们明天去你单位闹", "debtor", "block", "threat.doorstep"),
    # whole sentences in pinyin
    ("ni lao po zai na shang ban wo men dou zhi dao", "debtor", "block", "threat.doorstep"),
    ("qu bie de ping tai jie yi bi xian huan wo men", "debtor", "block", "coercion.new_borrowing"),
    ("zai bu huan qian jiu rang ni zuo lao", "debtor", "block", "deception.false_legal"),
]

# honest negatives: the same devices used for what they are for
HONEST = [
    ("请勿相信“已立案”“要拘留”的说法，我司从未委托任何人上门。", "debtor"),
    ("谨防冒充公检法诈骗，还款请认准官方APP。", "debtor"),
    ("请转告他“尽快回电”，谢谢。", "emergency_contact"),
    ("如有人说要拘留你，请立即报警。", "debtor"),
    ("“您好”，本月账单已出，请按时还款“谢谢”", "debtor"),
    ("我们不会称呼您为老赖，只是提醒您月底前还款。", "debtor"),
    ("之前有同事跟您说“再不还就去你单位闹”，这种话是严重违规的，向您道歉。", "debtor"),
    ("民事纠纷不涉及刑事责任，但判决后会强制执行。", "debtor"),
    ("千万别去借网贷来还，有困难咱们商量分期。", "debtor"),
    ("请直接联系您的客户经理核实。", "debtor"),
    ("最近有骗子冒充咱们客服加微信，千万别转账。", "debtor"),
    ("请勿通过借新还旧、信用卡套现等方式筹款，以免加重负担。", "debtor"),
    ("您作为紧急联系人不需要承担还款责任，麻烦您转告他回电。", "emergency_contact"),
    ("{{name}}您好，本月账单已出，请按时还款。", "debtor"),
    ("提醒您：法院判决后仍不履行的，可能被法院列入失信名单，目前尚未起诉，欢迎您主动协商。", "debtor"),
    ("逾期记录自您结清之日起在征信报告中保存5年，任何机构都不能消除逾期记录。", "debtor"),
    ("有人说逾期会坐牢，这种说法不对，信用卡逾期属于民事纠纷。", "debtor"),
    ("理解您最近要负担您妈妈的医药费，我们可以把月供调低。", "debtor"),
    ("嗯 好的 那个 工作日你可以随时登录APP 还款", "debtor"),
    ("请问您登记的住址是否有变更？我们下周要寄送结清证明。", "debtor"),
    ("根据保证合同约定，您先替他还本期8,600元，之后可向借款人追偿。", "guarantor"),
    ("您上周下班路上出意外住院的情况我们已经登记，可以申请延期。", "debtor"),
    ("有人打电话说您涉嫌诈骗要被立案，这是典型的冒充公检法骗局，请挂断。", "debtor"),
    ("经法院裁定，已依法对贵司名下账户冻结500万元，属于诉前财产保全措施。", "debtor"),
    ("您没必要砸锅卖铁，我们可以按您的实际收入重新定分期。", "debtor"),
    ("有人说不还就坐牢，别信。", "debtor"),
    ("我们律师将依法向法院申请诉前财产保全，保全范围以法院裁定为准。", "debtor"),
    ("根据我们省政府的纾困政策，符合条件的小微企业主可申请延期还本付息。", "debtor"),
    ("喂 您好 呃 您这边 法院的 传票 收到了吗 就是 我们 已经 依法 起诉了", "debtor"),
    ("建议贵司联系你们的甲方尽快结算工程款，以便按期偿还本期贷款。", "debtor"),
    ("您可以把情况跟单位说明清楚，请单位开一份停工证明，我们据此给您办理延期。", "debtor"),
    ("有人说要抓你坐牢，这种说法是谣言。", "debtor"),
    # 12-06 (policy 2026.12.19): the red-team's false alarms that a rule caused
    ("您好，我司拟于3月10日上午10点安排两名工作人员上门走访，请您提前准备好身份证和收入证明，如时间不便可来电改约。", "debtor"),
    ("李哥，我们到你小区门口了，按昨天约的十点，你方便就下来，不方便改天也行。", "debtor"),
    ("我司唯一还款账户为对公账户，请通过网银转到这个账户：户名XX消费金融有限公司，开户行XX银行。", "debtor"),
    ("记得今晚前把钱打到卡里，明天系统会自动扣款。", "debtor"),
    ("外访费、上门费一律由我司承担，您无需支付任何费用。", "debtor"),
    ("别借高利贷来还我们，实在困难我们给您延期。", "debtor"),
    ("贵司贷款到期后，可申请借新还旧或无还本续贷，需提交近三个月财务报表。", "debtor"),
    ("我这边 帮你盯着你的 减免申请 有结果了 第一时间告诉你", "debtor"),
    ("您的诉求我们记录了：一是停止联系您的同事，二是核实欠款金额，我们三个工作日内答复。", "debtor"),
    ("我们已不再联系您的家人，后续只与您本人沟通。", "debtor"),
    ("先照顾好孩子，孩子的安全和健康最重要，还款的事可以往后放一放，我们给您申请延期。", "debtor"),
    ("借网贷来还只会让你越陷越深，我们可以给您做分期。", "debtor"),
    ("有人说不还钱会坐牢，别的都不用信，那是谣言。", "debtor"),
    ("您孩子今年上小学了吧，开销大，可以申请分期。", "debtor"),
    ("您不需要帮他还款，明白吗？", "emergency_contact"),
    ("我们不会告诉你家人好吗，请放心", "debtor"),
    ("您好，所有佣金和费用都由本公司承担。如果有人向您索要“外访费”，请马上告诉我们。", "debtor"),
    ("张姐，您刚才问能不能直接转我微信，这个真不行哈，公司规定只能走官方渠道。", "debtor"),
    ("您说的那个 嗯 '不还就抓去坐牢' 这个说法是不对的 欠款属于民事纠纷", "debtor"),
    ("您聽到的「欠款會影響孩子上學」是沒有根據的，請不要擔心。", "debtor"),
    ("理解您孩子下个月要交学费，还款可以延后30天，不影响孩子上学的安排。", "debtor"),
    ("嗯 您说的那个 就是有人冒充我们 说 '不还钱就去你单位闹 让你全家都知道' 这种都是骗子的话术 我们正规公司 不会这么说", "debtor"),
    ("千万别为了还我们的钱再去别的App借款，拆东墙补西墙只会越滚越多，我们可以给您申请分12期。", "debtor"),
    ("嗯 那个 您说要去 刷信用卡套现 来还 这个 我们不建议 也不允许 您就按分期来", "debtor"),
    ("我司不鼓励、也不接受您通过借新还旧、网贷或变卖生活必需品等方式筹款还款。", "debtor"),
    ("请贵司按合同约定先缴纳履约保证金后放款。", "debtor"),
    ("您朋友说逾期了就会被起诉坐牢 这不对 就算起诉也是民事诉讼", "debtor"),
    ("您说的那个说要抓人的 那肯定不是正规催收 正规的不可能这么讲", "debtor"),
    ("莫慌嘛，哪个说要抓你嘛，那些都是吓你的，我们这边就是想跟你商量个分期。", "debtor"),
    ("您提到有人说要把您的事发到家族群里，我们公司不会这样做，也禁止任何外包人员这么做，您可以放心。", "debtor"),
    ("啥？那人说要上门泼油漆？这个我听了都来气，公司从来没这种做法，你有录音的话发我，我马上报上去处理。", "debtor"),
    ("骗子会说“不转账明天就上门抓人”，我们不会这么说，别慌。", "debtor"),
    ("您不需要帮他还款明白吗", "emergency_contact"),
]


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard(default_policy())


@pytest.mark.parametrize(("text", "recipient", "decision", "sub"), BYPASSES, ids=[b[0][:10] for b in BYPASSES])
def test_listed_bypasses_are_caught(guard: Guard, text: str, recipient: str, decision: str, sub: str) -> None:
    d = guard.check(text, recipient, suggest=False)
    assert d.decision == decision, d.to_dict()
    assert sub in {v.subcategory for v in d.violations}
    for v in d.violations:  # evidence points into the original text
        for e in v.evidence:
            assert text[e.start:e.end] == e.text


@pytest.mark.parametrize(("text", "recipient"), HONEST, ids=[h[0][:10] for h in HONEST])
def test_honest_protective_text_passes(guard: Guard, text: str, recipient: str) -> None:
    d = guard.check(text, recipient, suggest=False)
    assert d.decision == "allow", d.to_dict()


@pytest.mark.parametrize(("text", "quotes_dropped"), [
    ("据说“不还钱的人会被抓”", True),
    ("尊敬的客户：“再不还钱就让你坐牢”", True),   # the greeting frames nothing
    ("不得使用“你死定了”等恐吓语言", False),      # a frame word: the quote is what the text is about
    ("如不是请回复“否”，我们将停止发送", False),  # a reply code is not decoration
    ("“再不还钱就让你坐牢”。客户经理稍后联系您", True),  # the frame word is in another sentence
])
def test_dressing_drops_quote_marks_only_where_they_decorate(context: ContextFilter, text: str,
                                                             quotes_dropped: bool) -> None:
    dressing = context.dressing(text)
    assert ("“" in dressing) == quotes_dropped
    assert {"这只是提醒", "谢谢配合"} <= set(dressing)  # disclaimers and padding always go
