"""Test-side generators for valid and invalid checksummed identifiers.

Check characters are computed here independently of ``nlp_guard.pii`` so the
tests do not just re-run the code under test.
"""
from __future__ import annotations

ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # ISO 7064 MOD 11-2: 2^(n-1) mod 11
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [3**i % 31 for i in range(17)]


def id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character."""
    s = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS))
    return "10X98765432"[s % 11]


def make_id(region: str = "110105", birth: str = "19900307", seq: str = "123") -> str:
    """A valid 18-char resident ID."""
    body = region + birth + seq
    return body + id_check(body)


def bad_check(value: str, alphabet: str = "0123456789X") -> str:
    """``value`` with a wrong last character from ``alphabet``."""
    wrong = next(c for c in alphabet if c != value[-1])
    return value[:-1] + wrong


def uscc_check(first17: str) -> str:
    """GB 32100 MOD 31 check character."""
    s = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_CHARS[(31 - s % 31) % 31]


def make_uscc(first17: str = "91440300MA5F0ABC1") -> str:
    """A valid USCC from its first 17 characters."""
    return first17 + uscc_check(first17)


def luhn_digit(payload: str) -> str:
    """Digit that completes ``payload`` to a Luhn-valid number."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def make_card(payload: str = "622202123456789") -> str:
    """A Luhn-valid card number (payload + check digit)."""
    return payload + luhn_digit(payload)


def bad_luhn(value: str) -> str:
    """``value`` with its last digit changed so Luhn fails."""
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def group4(value: str, sep: str = " ") -> str:
    """Digits grouped by four, as printed on cards."""
    return sep.join(value[i : i + 4] for i in range(0, len(value), 4))


def single_match(found: list, text: str, expected: str | None):
    """The table rows' shared assertion: nothing found when ``expected`` is None,
    else exactly one finding covering ``expected`` (returned for further checks)."""
    if expected is None:
        assert found == []
        return None
    assert [text[f.start : f.end] for f in found] == [expected]
    return found[0]
