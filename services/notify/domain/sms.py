"""SMS length: GSM-7 or UCS-2, fragments, and downgrading to GSM-7.

GSM-7: 160 septets in one message, 153 per part when split; characters of the
extension table (``^{}\\[~]|€`` and form feed) take two septets. UCS-2: 70 code
units, 67 per part. Characters outside GSM-7 that have a close GSM-7 match
(curly quotes, dashes, most accented letters) are replaced, so a message that
can be GSM-7 is; if anything is left that cannot, the message goes as UCS-2
unchanged.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

MAX_CHARACTERS: Final = 918

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: Final = frozenset("^{}\\[~]|€\f")

_REPLACEMENTS: Final = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2012": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",
    "\u200b": "",
    "\t": " ",
    "\u2022": "-",
    "\u00ab": '"',
    "\u00bb": '"',
    "\u00d7": "x",
    "\u00f7": "/",
}

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SmsLength:
    text: str  # what is sent (downgraded when GSM-7)
    encoding: Encoding
    characters: int  # characters of ``text``
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    fragments: int


def _downgrade_char(char: str) -> str | None:
    if char in GSM7_BASIC or char in GSM7_EXTENSION:
        return char
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    # Strip accents: "á" -> "a", but keep what GSM-7 has ("é" is in the table above).
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and all(c in GSM7_BASIC for c in base):
        return base
    return None


def downgrade(text: str) -> str | None:
    """``text`` in GSM-7 characters, or None if something has no close match."""
    out: list[str] = []
    for char in text:
        replaced = _downgrade_char(char)
        if replaced is None:
            return None
        out.append(replaced)
    return "".join(out)


def septets(text: str) -> int:
    return sum(2 if c in GSM7_EXTENSION else 1 for c in text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fragments_for(units: int, single: int, part: int) -> int:
    if units <= single:
        return 1
    return math.ceil(units / part)


def measure(text: str) -> SmsLength:
    gsm = downgrade(text)
    if gsm is not None:
        n = septets(gsm)
        return SmsLength(gsm, "GSM-7", len(gsm), n, fragments_for(n, 160, 153))
    n = utf16_units(text)
    return SmsLength(text, "UCS-2", len(text), n, fragments_for(n, 70, 67))
