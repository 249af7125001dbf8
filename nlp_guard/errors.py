"""The nlp_guard exception tree. Every error carries a stable code.

    GuardError                     base class; ``code`` like "E101"
    ├── InputError                 bad user input (text, record, file)
    │   ├── EmptyTextError         E101 empty or whitespace-only text
    │   ├── TextTooLongError       E102 text over the configured limit
    │   └── RecordError            E103 one batch record is malformed (carries line number)
    ├── PolicyError                E201 a policy file or overlay does not validate
    └── ModelError                 E301 a model directory is corrupt or incomplete, or cannot be loaded
        └── ModelNotFoundError     E302 no model directory was found (or the one named does not exist)

The CLI turns these into one-line messages and the API into 4xx responses;
neither ever shows a stack trace to the user.
"""
from __future__ import annotations


class GuardError(Exception):
    code = "E100"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")
        self.message = message


class InputError(GuardError):
    code = "E100"


class EmptyTextError(InputError):
    code = "E101"


class TextTooLongError(InputError):
    code = "E102"


class RecordError(InputError):
    """A batch record that cannot be screened; ``line`` is 1-based."""

    code = "E103"

    def __init__(self, message: str, line: int | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(where + message)
        self.line = line


class PolicyError(GuardError):
    code = "E201"


class ModelError(GuardError):
    code = "E301"


class ModelNotFoundError(ModelError):
    """No model to load: a guard never falls back to rules only unless asked (``rules_only``)."""

    code = "E302"
