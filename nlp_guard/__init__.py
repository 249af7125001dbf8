"""nlp_guard: compliance screening for Chinese debt-collection communication.

    from nlp_guard import Guard
    Guard.default().check("老赖，再不还钱后果自负", recipient="debtor")
"""
from .classifier import Classifier
from .errors import (
    EmptyTextError,
    GuardError,
    InputError,
    ModelError,
    ModelNotFoundError,
    PolicyError,
    RecordError,
    TextTooLongError,
)
from .guard import Guard, Message
from .policy import PolicyPack, load_policy
from .results import Decision, Evidence, PIIEntity, Signal, TranscriptDecision, TurnResult, Violation

__all__ = sorted([
    "Classifier",
    "Decision",
    "EmptyTextError",
    "Evidence",
    "Guard",
    "GuardError",
    "InputError",
    "Message",
    "ModelError",
    "ModelNotFoundError",
    "PIIEntity",
    "PolicyError",
    "PolicyPack",
    "RecordError",
    "Signal",
    "TextTooLongError",
    "TranscriptDecision",
    "TurnResult",
    "Violation",
    "load_policy",
])
