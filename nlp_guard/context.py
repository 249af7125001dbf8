"""Protective and negating context: why "谨防冒充公检法诈骗" is not impersonation.

A hit is suppressed when it sits inside an allow-listed phrase, after a
protective cue (请勿相信, 严禁 …) or before one (… 的说法, … 诈骗) in the same
clause, before a condemnation later in its sentence (…，那都是谣言), or after a negator (不会, 不是 …) in the same clause, unless the sender takes it back
(``provisos``: …，前提是你今晚还钱; a "not saying" with a ``contrasts`` word: 不会说…，但是 …): a comma, an
enumeration comma or a colon ends a clause, so "不会告诉家人" is negated and
"不会放过你，告诉你家人" is not, and "谨防诈骗，再不还钱后果自负" is a threat.

Quotes do not protect by themselves. A hit inside one matched pair of quotes
("请勿相信“已立案”的说法") is suppressed only when the sentence around the
quotes carries a protective cue or a word that reports or condemns it
(``quote_frames``: 违规, 有人, 道歉 …); quotes that merely decorate a threat
("“您好”再不还钱我找人打死你“谢谢”") change nothing, and neither does a greeting that names
the reader (``salutations``: "尊敬的客户：“再不还钱就让你坐牢”"). A quote put in the
collector's own side's mouth or in nobody's (``relay_frames``: 同事们都说“你再不还就抓你”) is a
relayed threat unless the message condemns what was said after it (``relay_condemned``: 严重违规,
标红 …; not 欠钱不还是违法的), or apologises for it by name (这种话是不对的 … 向您道歉; not 给您道歉打扰了).
Sentences end at
sentence punctuation and wherever whitespace stood in the original text
(``breaks``, from :func:`nlp_guard.normalize.normalize`), so a line break or a
spoken pause cannot carry a warning over to the threat before it.

Every one of these is a door, so each has its own limits, found by red-teaming: a turn to a
consequence starts a clause, comma or not (``clause_breaks``: 切勿心存侥幸否则通知你的单位领导); a
condemnation that is itself denied (``disbelief``: 别以为是诈骗), doubted before the hit
(``doubters``: 别以为我说…是假的) or aimed at someone's words between (说…的都是谣言) condemns
nothing, and 别信 counts only where its sentence ends (``sentence_closers``); a quote the sender
winks at is taken up, not reported (``winks``: 你自己猜, 这句话我说到做到); a list closer stretches
a cue, never a negator, over a list of ways or words only (``list_closers``, ``list_heads``); and
negations that threaten are no negations (``non_negators``: 不要等…才后悔, 别再逼我们, 能不能).
The second round (policies 2026.12.19–2026.12.22) added: a negator in a question affirms
(``questions``: 你单位不是交了公积金吗？) unless the question only asks the reader to agree
(``tag_questions``: 好吗); someone else's words rebutted after them are not the sender's (``reporters``,
``rebuttals``: 您朋友说…坐牢 这不对), across a transcript's fillers, unless the rebuttal asks, is denied or
is taken back; a warning after the sender's own announced act excuses nothing (``own_acts``), nor does
a condemnation of something else (``others``: 别的都不靠谱) or an allow-listed phrase said of the reader
(``addressed``: 你们一家人那都是骗子); and a rule may name what makes its hit lawful beside it
(:meth:`ContextFilter.lawful_beside`: a visit the debtor can reschedule).
"""
from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from functools import cached_property

import regex

from .policy.schema import Context

_SENTENCE_END = regex.compile(r"[。!?！？;；\s]")
#: The longest quoted stretch that is a reply code (回复“否”), not decoration.
_REPLY_CODE = 2
_CLAUSE_END = regex.compile(r"[，,、：:]")
#: Clause ends inside a list that a closer ends (请勿通过信用卡套现、网贷借新还旧等方式筹款): the
#: enumeration comma joins the list's items there instead of ending a clause.
_CLAUSE_END_IN_LIST = regex.compile(r"[，,：:]")
#: How far after a hit a list closer may start and still close the hit's own item (信用卡套现等方式).
_LIST_GAP = 2
#: Someone's words between a hit and a condemnation: the condemnation is of them (说…的都是谣言; not 说法).
_SAYING = regex.compile(r"说(?!法)")
#: What may follow a sentence-closing cue (别信啊).
_TRAILING = " 啊哈呀吧的了哦!！~～。"
#: A greeting that names the reader with the lender's brand (尊敬的招联金融客户：) frames no quote.
_SALUTATION = regex.compile(r"尊敬的[^，,：:“”「」\s]{0,12}(?:客户|用户|会员)")
#: How far before a condemning cue a word of disbelief takes it back (别以为是诈骗, 这可不是谣言).
_DISBELIEF_REACH = 4
#: A transcript's sentence this short between two pauses is a filler (嗯, 那个), not a sentence of its own.
_FILLER = 2
#: How many fillers a reported word or a rebuttal may stand beyond.
_FILLER_HOPS = 4
#: How many sentences after a reported hit may hold its rebuttal: a pause inside the quote ends one
#: (有人冒充我们 说 '不还钱就去你单位闹 让你全家都知道' 这种都是骗子的话术).
_REBUTTAL_SENTENCES = 2
#: Where a negator's clause ends, for a question's mark (吗).
_CLAUSE_OR_SENTENCE_END = regex.compile(r"[，,、：:。!?！？;；\s]")
#: How many characters may follow a reported word in its sentence when the hit stands in the next one.
_LEAD = 4
#: How far before a hit a first-person subject makes it the sender's own act (我们明天去你单位).
_OWN_ACT_REACH = 4


@dataclass(frozen=True)
class ContextFilter:
    context: Context
    allow_list: tuple[str, ...]

    @staticmethod
    def sentence(text: str, start: int, end: int, breaks: Set[int]) -> tuple[int, int]:
        """The bounds of the sentence that holds ``text[start:end]``."""
        left = start
        while left > 0 and left not in breaks and not _SENTENCE_END.match(text[left - 1]):
            left -= 1
        right = end
        while right < len(text) and right not in breaks and not _SENTENCE_END.match(text[right]):
            right += 1
        return left, right

    def _next_sentence_end(self, text: str, right: int, breaks: Set[int]) -> int:
        """Where the sentence after the one ending at ``right`` ends (``right`` at the text's end)."""
        return self.sentence(text, right + 1, right + 1, breaks)[1] if right < len(text) else right

    def dressing(self, text: str, breaks: Set[int] = frozenset()) -> tuple[str, ...]:
        """What a sender wrapped ``text`` in to soften how it reads: his own disclaimers, hearsay,
        service padding and quote marks (您好，据说“不还钱会被抓”，这只是提醒，谢谢配合); the classifier
        reads messages without it too. Quote marks go when some quote decorates: it holds more
        than a reply code (回复“否”) and its sentence has no word that frames it, the same test
        :meth:`reason` applies (不得使用“小心点”等恐吓语言 keeps its marks: the quote is what it
        talks about)."""
        words = (*self.context.disclaimers, *self.context.hearsay, *self.context.padding)
        for m in self._quoted.finditer(text):
            if len(m.group()[1:-1].strip()) <= _REPLY_CODE:
                continue
            left, right = self.sentence(text, m.start(), m.end(), breaks)
            if not self._frames(f"{text[left:m.start()]}|{text[m.end():right]}"):
                return (*words, *self._marks)
        return words

    @cached_property
    def _marks(self) -> tuple[str, ...]:
        """Every quote mark of the pack's quote pairs, once each."""
        return tuple(dict.fromkeys(ch for pair in self.context.quote_pairs for ch in pair))

    @cached_property
    def _quoted(self) -> regex.Pattern[str]:
        """A stretch between one of the pack's quote pairs."""
        return regex.compile("|".join(f"{regex.escape(o)}[^{regex.escape(o + c)}]*{regex.escape(c)}"
                                      for o, c in self.context.quote_pairs))

    def _frames(self, text: str) -> str | None:
        """The first word in ``text`` that makes a quote in its sentence reported or condemned speech
        (greetings that name the reader and defiance such as 不服可以投诉 do not)."""
        for words in (*self.context.salutations, *self.context.defiance):
            text = text.replace(words, "|")
        text = _SALUTATION.sub("|", text)
        return next((w for w in (*self.context.quote_frames, *self.context.protective_prefixes,
                                 *self.context.protective_suffixes) if w in text), None) or self._apology(text)

    def _condemned(self, after: str) -> str | None:
        """The word in ``after`` (the message after a relayed quote) that condemns what was said: a
        verdict (严重违规, 标红), or an apology beside a word that names the wrong (这种话 … 向您道歉)."""
        return self._standing(after, self.context.relay_condemned, about_words=False) or self._apology(after)

    def _apology(self, text: str) -> str | None:
        """An apology in ``text`` beside a word that names the wrong (说您“不要脸”是我不对，向您道歉),
        as ``wrong…apology``; an apology alone may be for the call (给您道歉打扰了)."""
        wrong = next((w for w in self.context.relay_wrongs if w in text), None)
        apology = wrong and next((w for w in self.context.relay_apologies if w in text), None)
        return apology and f"{wrong}…{apology}"

    def _unquoted(self, text: str, start: int, end: int) -> tuple[int, int]:
        """A hit that spans a quote mark is judged by its longest part between quote marks: the
        classifier also reads messages without their quotes, and words it marks there can run
        over one (说"你们都是骗子 of 客户说"你们都是骗子")."""
        cuts = [i for i in range(start, end) if text[i] in self._marks]
        if not cuts:
            return start, end
        parts = zip([start, *(i + 1 for i in cuts)], [*cuts, end], strict=True)
        return max(parts, key=lambda p: p[1] - p[0])

    def _quote(self, text: str, left: int, right: int, start: int, end: int) -> tuple[int, int] | None:
        """The innermost matched pair of quotes in ``text[left:right]`` around the hit, if any."""
        for opening, closing in self.context.quote_pairs:
            open_at: list[int] = []
            for i in range(left, right):
                ch = text[i]
                if ch == closing and open_at:
                    o = open_at.pop()
                    if o < start and i >= end:
                        return o, i
                elif ch == opening:
                    open_at.append(i)
        return None

    def _mask(self, before: str) -> str:
        """``before`` with the words that only look like negation (不要脸, 不会放过) and the sender's
        disclaimers (不是威胁你，…) blanked out.

        Every occurrence is blanked at once, overlaps included, so that blanking one word cannot
        leave a negator behind from another (不要以为 + 以为我们不会 in "不要以为我们不会")."""
        blank = [False] * len(before)
        for word in (*self.context.non_negators, *self.context.disclaimers):
            i = before.find(word)
            while i != -1:
                blank[i:i + len(word)] = [True] * len(word)
                i = before.find(word, i + 1)
        return "".join("|" if b else ch for ch, b in zip(before, blank))

    def _closed(self, window: str) -> str:
        """``window`` with allow-listed phrases blanked out: a complete protective phrase (谨防诈骗,
        如有疑问请拨打) protects itself, not a hit glued to it ("…就是败类谨防诈骗")."""
        for phrase in self.allow_list:
            window = window.replace(phrase, "|")
        return window

    def _cue(self, before: str, after: str, doubted: bool = False) -> str | None:
        for cue in self.context.protective_prefixes:
            if cue in before:
                return f"protective cue {cue!r} before the hit"
        cue = None if doubted else self._standing(after, self.context.protective_suffixes)
        return f"protective cue {cue!r} after the hit" if cue else None

    def _standing(self, after: str, cues: Sequence[str], about_words: bool = True) -> str | None:
        """The first of ``cues`` in ``after`` that is not itself denied: "别以为是诈骗", "这可不是谣言",
        "你以为是假的？" and "这不属于骚扰" condemn nothing (``disbelief`` in the few characters before
        the cue), and a cue after someone's words condemns those words, not the hit ("不还钱就是坐牢，说欠钱
        不会坐牢的都是诈骗套路"; not ``about_words`` after a relayed quote, whose condemnation is of what
        was said). A cue of ``sentence_closers`` (别信) counts only where its sentence ends."""
        for cue in cues:
            i = after.find(cue)
            while i != -1:
                if not (self._denied(after, i)
                        or about_words and _SAYING.search(after, 0, i)
                        or cue in self.context.sentence_closers and after[i + len(cue):].strip(_TRAILING)):
                    return cue
                i = after.find(cue, i + 1)
        return None

    def _denied(self, text: str, i: int) -> bool:
        """Whether a word of ``disbelief`` stands just before ``text[i]`` (别以为是诈骗, 这可不是谣言,
        没什么是不对的, 不用等判决后)."""
        left = max(0, i - _DISBELIEF_REACH)
        near = text[left:i + 2]
        # a word that starts where the cue starts is the cue's own (不是正规催收), not a denial of it
        return any(0 <= near.find(w) < i - left for w in (*self.context.disbelief, *self.context.others))

    def lawful(self, text: str, start: int, end: int, breaks: Set[int], conditions: Sequence[str]) -> str | None:
        """The condition of lawful process (a rule's ``lawful_after``: 判决后) that stands earlier in the
        hit's sentence and is not itself waved away (不用等判决后了，明天就把你列入失信名单)."""
        left, _ = self.sentence(text, start, end, breaks)
        for w in conditions:
            i = text.find(w, left, start)
            if i != -1 and not self._denied(text, i):
                return f"lawful after {w!r}"
        return None

    def lawful_beside(self, text: str, start: int, end: int, breaks: Set[int],
                      patterns: Sequence[regex.Pattern[str]]) -> str | None:
        """A statement that makes the hit lawful (a rule's ``lawful_with``: a visit the debtor can
        reschedule, a fee the lender bears) in the hit's sentence or the next, not itself waved away
        and with no contrast after it (外访费均由我司承担，但催收费您需支付)."""
        left, right = self.sentence(text, start, end, breaks)
        right = self._next_sentence_end(text, right, breaks)
        for p in patterns:
            for m in p.finditer(text, left, right):
                if not self._denied(text, m.start()) and not any(w in text[m.end():right] for w in self.context.contrasts):
                    return f"lawful beside {m.group()!r}"
        return None

    def reason(self, text: str, start: int, end: int, breaks: Set[int] = frozenset()) -> str | None:
        """Why the hit ``text[start:end]`` is not a violation, or None if it stands.

        ``breaks`` are the sentence boundaries normalisation removed from ``text``.
        """
        for phrase in self.allow_list:
            i = text.find(phrase, max(0, start - len(phrase)))
            while i != -1 and i <= start:
                if i + len(phrase) >= end and not text[:i].endswith(tuple(self.context.addressed)):
                    return f"inside allow-listed phrase {phrase!r}"
                i = text.find(phrase, i + 1)
        start, end = self._unquoted(text, start, end)
        s_left, s_right = self.sentence(text, start, end, breaks)
        quote = self._quote(text, s_left, s_right, start, end)
        if quote:
            o, c = quote
            if self._disowned(text, c, breaks):
                return None
            around = f"{text[s_left:o]}|{text[c + 1:s_right]}"
            frame = self._frames(around)
            relay = None if frame else next((w for w in self.context.relay_frames if w in around), None)
            verdict = relay and self._condemned(text[c + 1:])
            if verdict:
                return f"quoted between {text[o]}{text[c]}, relayed by {relay!r}, in a message that condemns it ({verdict!r})"
            if frame:
                return f"quoted between {text[o]}{text[c]} in a sentence that reports or condemns it ({frame!r})"
        after = self._closed(text[end:s_right])
        doubted = any(w in text[s_left:start] for w in self.context.doubters)
        cue = None if doubted else self._standing(after, (*self.context.sentence_suffixes, *self.context.sentence_closers))
        if cue:
            return f"condemned by {cue!r} later in the sentence"
        rebutted = None if doubted else self._rebutted(text, s_left, start, end, s_right, breaks)
        if rebutted:
            return rebutted
        c_right = next((m.start() for m in _CLAUSE_END.finditer(text, end, s_right)), s_right)
        c_left = max((m.end() for m in _CLAUSE_END.finditer(text, s_left, start)), default=s_left)
        # a turn to a consequence starts a clause of its own, comma or not (切勿心存侥幸否则通知你的单位领导),
        # also where the hit begins inside it (你也别换工作了我们知道你在哪上班)
        c_left = max([c_left, *(min(i + len(w), start) for w in self.context.clause_breaks
                               if (i := text.rfind(w, c_left, start + len(w) - 1)) != -1)])
        l_left = self._list_left(text, s_left, c_left, start, end, c_right)
        owned = any(w in text[max(c_left, start - _OWN_ACT_REACH):start] for w in self.context.own_acts)
        cue = self._cue(self._closed(self._mask(text[max(l_left, start - self.context.window):start])),
                        self._closed(self._mask(text[end:min(c_right, end + self.context.window)])), doubted or owned)
        if cue:
            return cue
        # masked before it is cut, so that a clause break cannot split a non-negator (我们就停止联系…)
        clause = self._mask(text[s_left:start])[max(c_left, start - self.context.negator_window) - s_left:]
        neg = next((w for w in self.context.negators if w in clause), None)
        if neg is None or self._withdrawn(text, clause, start, end, (s_left, s_right), breaks) or self._asks(
                text, start - len(clause) + clause.find(neg), breaks):
            return None
        return f"negated by {neg!r}"

    def _asks(self, text: str, at: int, breaks: Set[int]) -> bool:
        """Whether the clause of the negator at ``text[at]`` is a question, which affirms
        (你单位不是交了公积金吗？…一周就能提出来). Not "…不需要帮他还款，明白吗？" (another clause), nor
        a tag that asks the reader to agree (``tag_questions``: 我们不会告诉你家人好吗)."""
        m = _CLAUSE_OR_SENTENCE_END.search(text, at)
        j = m.start() if m else len(text)
        clause = text[at:min([j, *(b for b in breaks if at < b < j)])]
        for tag in self.context.tag_questions:
            clause = clause.replace(tag, "|")
        return any(q in clause for q in self.context.questions)

    def _rebutted(self, text: str, s_left: int, start: int, end: int, s_right: int, breaks: Set[int]) -> str | None:
        """Why a hit someone else is reported to have said (``hearsay``, ``reporters``: 您朋友说, 那人说,
        in its sentence or the one before) is not the sender's: he rebuts it after it, in its sentence or
        the two after (``rebuttals``: 这不对, 我们公司不会这样做, 都是吓你的), and neither asks
        (这不对吗), denies (这可不是吓你的) nor takes the rebuttal back with a contrast after it
        (…不会这样做，不过你再拖就难说了)."""
        reporters = (*self.context.hearsay, *self.context.reporters)
        if not any(w in text[:start] for w in reporters):  # most hits: no one else's words anywhere before
            return None
        before, after_end = self._reach(text, s_left, s_right, breaks)
        reporter = next((w for w in reporters if self._leads_to(text, w, before, start, breaks)), None)
        if reporter is None:
            return None
        rest = text[end:after_end]
        rebuttal = self._standing(rest, self.context.rebuttals, about_words=False)
        if rebuttal is None:
            return None
        after = rest[rest.find(rebuttal) + len(rebuttal):]
        if after.lstrip(_TRAILING).startswith(tuple(self.context.questions)) or any(
                w in after for w in self.context.contrasts):
            return None
        return f"reported ({reporter!r}) and rebutted ({rebuttal!r})"

    def _leads_to(self, text: str, reporter: str, before: int, start: int, breaks: Set[int]) -> bool:
        """Whether ``reporter`` (its last occurrence in ``text[before:start]``) introduces the hit at
        ``start``: within the cue window before it, no clause end between them but one right after
        the reporter (有人说：…), and across a sentence end only where the reporter ends its sentence
        (有人冒充我们 说 '…'; not 听说你换工作了。明天去你单位闹。这不对吧)."""
        i = text.rfind(reporter, before, start)
        if i == -1:
            return False
        j = i + len(reporter)
        if start - j > self.context.window or _CLAUSE_END.search(text[j:start].lstrip("，,：: ")):
            return False
        own_end = self.sentence(text, j, j, breaks)[1]
        return own_end >= start or own_end - j <= _LEAD

    def _reach(self, text: str, s_left: int, s_right: int, breaks: Set[int]) -> tuple[int, int]:
        """Where the sentence before the one at ``[s_left, s_right)`` starts and where the
        ``_REBUTTAL_SENTENCES``-th after it ends, not counting a transcript's fillers as sentences (嗯, 那个,
        来还: ``_FILLER`` characters or fewer between two pauses)."""
        left = s_left
        for _ in range(_FILLER_HOPS):
            if left == 0:
                break
            prev = self.sentence(text, left - 1, left - 1, breaks)[0]
            left, filler = prev, left - prev <= _FILLER + 1
            if not filler:
                break
        right, whole = s_right, 0
        for _ in range(_FILLER_HOPS + _REBUTTAL_SENTENCES):
            if right >= len(text):
                break
            nxt = self._next_sentence_end(text, right, breaks)
            right, whole = nxt, whole + (nxt - right > _FILLER + 1)
            if whole == _REBUTTAL_SENTENCES:
                break
        return left, right

    def _list_left(self, text: str, s_left: int, c_left: int, start: int, end: int, c_right: int) -> int:
        """Where a protective cue may stand for the hit: its clause, or, when the hit closes a list
        of ways or words (请勿通过借新还旧、信用卡套现等方式), the list's clause. A negator is never
        stretched that way (我们不会只打电话、明天就去你单位闹等方式都会用上)."""
        if not any(0 <= text.find(w, end, c_right) - end <= _LIST_GAP for w in self.context.list_closers):
            return c_left
        l_left = max((m.end() for m in _CLAUSE_END_IN_LIST.finditer(text, s_left, start)), default=s_left)
        if any(w in text[l_left:c_left] for w in self.context.list_heads) and not any(
                w in text[l_left:start] for w in self.context.clause_breaks):
            return l_left
        return c_left

    def _disowned(self, text: str, close: int, breaks: Set[int]) -> bool:
        """Whether a quote is taken up, not reported: the sender denies it and then turns on the
        reader (有客户投诉我们说“…”，我们当然不会这么做，不过您要是继续拖 …), or winks at it
        (``winks``: 质检不让我说“明天去你家”，你自己猜; …“…”这句话我说到做到; …第二天他就还了), in the
        sentence after the quote's closing mark or the next one."""
        _, s_right = self.sentence(text, close + 1, close + 1, breaks)
        rest = text[close + 1:self._next_sentence_end(text, s_right, breaks)]
        if any(w in rest for w in self.context.winks):
            return True
        denial = next((rest.find(w) for w in self.context.denials if w in rest), -1)
        return denial >= 0 and any(w in rest[denial:] for w in self.context.contrasts)

    def _withdrawn(self, text: str, clause: str, start: int, end: int, sentence: tuple[int, int],
                   breaks: Set[int]) -> bool:
        """Whether the sender takes his negation back: a proviso (不会发到你家族群里，前提是你今晚把钱转过来)
        or a "not saying …, but" (我们不会说你明天就要被抓，但是按规定要上报公安), in the hit's
        sentence or the next one."""
        s_left, s_right = sentence
        rest = text[end:self._next_sentence_end(text, s_right, breaks)]
        if any(w in text[s_left:start] or w in rest for w in self.context.provisos):
            return True
        return any(w in clause for w in self.context.speech_negators) and any(w in rest for w in self.context.contrasts)
