"""Imported once by the fork server that local scan workers are forked from (``batch.WORKER_PRELOAD``).

Screening one message here loads what every worker would otherwise load for itself before
its first result: spaCy and the NER pipeline, the rules' jieba dictionary, the normaliser's
homophone table and pinyin lexicon, the recognizers' compiled patterns (2 to 3 s of CPU a worker: a 2-worker
rules-only scan of 2,100 records took 4.6 ms of CPU a record before, 1.9 after; 1.6 to 1.9 is
the Guard alone). Only process-wide state is warmed: each worker still
builds its own Guard from its GuardSpec. Rules only, so no model session (and its threads)
exists in the fork server. A failure here is logged and left for the workers to meet and report.
"""
from __future__ import annotations

import logging

from .guard import Guard, Message
from .normalize import preload

log = logging.getLogger(__name__)

_TEXT = "张伟您好，您在平台的借款已逾期3天，请今日还款。"
try:
    _guard = Guard.default(rules_only=True)
    _guard.check_many([Message(_TEXT)], suggest=False)
    _guard.rules.segmenter.tokenize(_TEXT)  # the shipped pack's jieba dictionary, which only some texts need
    preload()  # the pinyin lexicon, which only pinyin sentences need
except Exception as exc:  # noqa: BLE001 - an error raised here would kill the fork server and every scan with it
    log.warning("scan worker warm-up failed (%s); each worker loads for itself and reports what fails", exc)
