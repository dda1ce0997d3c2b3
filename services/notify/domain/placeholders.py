"""Placeholders: ``((name))`` and conditional text ``((name??text))``.

Names match ignoring case, spaces, ``_`` and ``-`` (``((First name))`` takes the
value ``first_name``). Conditional text shows when the value says yes
(yes/true/y/1, any case) and hides otherwise. A list value renders as
"a, b and c" in the notification's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.lists import format_list

Value = str | Sequence[str]

PATTERN = re.compile(r"\(\(([^()?]+?)(?:\?\?([^()]*))?\)\)")
_IGNORED = re.compile(r"[\s_\-]+")
_YES = frozenset({"yes", "y", "true", "1"})


def normalise(name: str) -> str:
    return _IGNORED.sub("", name).lower()


@dataclass(frozen=True)
class Placeholder:
    name: str  # normalised
    conditional_text: str | None


def find(text: str) -> list[Placeholder]:
    return [Placeholder(normalise(m.group(1)), m.group(2)) for m in PATTERN.finditer(text)]


def names_in(texts: Iterable[str]) -> list[str]:
    """Normalised names used in ``texts``, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for p in find(text):
            seen.setdefault(p.name, None)
    return list(seen)


def normalise_values(values: Mapping[str, Value]) -> dict[str, Value]:
    return {normalise(k): v for k, v in values.items()}


def missing(texts: Iterable[str], values: Mapping[str, Value]) -> list[str]:
    """Placeholders in ``texts`` with no value (``values`` already normalised)."""
    return [n for n in names_in(texts) if n not in values]


def join_list(items: Sequence[str], language: str) -> str:
    """ "a, b and c" in ``language`` (British English for "en")."""
    cleaned = [i for i in items if i.strip()]
    if not cleaned:
        return ""
    locale = "en_GB" if language.split("-", maxsplit=1)[0] == "en" else language.replace("-", "_")
    try:
        return format_list(cleaned, locale=Locale.parse(locale))
    except (UnknownLocaleError, ValueError):
        return format_list(cleaned, locale="en_GB")


def as_text(value: Value, language: str) -> str:
    return value if isinstance(value, str) else join_list(value, language)


def shows(value: Value) -> bool:
    return isinstance(value, str) and value.strip().lower() in _YES


def substitute(
    text: str,
    values: Mapping[str, Value],
    language: str,
    *,
    value_to: Callable[[str], str] = lambda s: s,
    condition_to: Callable[[str], str] = lambda s: s,
) -> str:
    """Replace every placeholder; ``values`` must be normalised and complete.

    ``value_to`` transforms personalisation values (HTML escaping, markers) and
    ``condition_to`` the template's own conditional text, so the two never mix.
    """

    def replace(match: re.Match[str]) -> str:
        value = values[normalise(match.group(1))]
        conditional = match.group(2)
        if conditional is not None:
            return condition_to(conditional) if shows(value) else ""
        return value_to(as_text(value, language))

    return PATTERN.sub(replace, text)
