"""Templates: versioned wording per language, rendered with personalisation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from services.notify.domain import formatting, placeholders, sms
from services.notify.domain.placeholders import Value
from services.notify.domain.statuses import CHANNELS, Channel
from services.runtime.errors import FieldViolation, InvalidArgument

MAX_NAME = 200
MAX_SUBJECT = 500
MAX_EMAIL_BODY = 100_000
MAX_SMS_BODY = 5_000  # before personalisation; the rendered limit is sms.MAX_CHARACTERS
MAX_LANGUAGES = 20
MAX_CHANGED_BY = 320
MAX_VALUES = 200
MAX_VALUE_LENGTH = 10_000
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")


@dataclass(frozen=True)
class Content:
    language: str
    subject: str
    body: str


@dataclass(frozen=True)
class Template:
    id: str
    tenant: str
    version: int
    channel: Channel
    name: str
    contents: tuple[Content, ...]  # the first is the default language
    created_at: datetime
    version_at: datetime
    # Who made this version, as the caller said (free text, e.g. the console's
    # staff member's email address): notify does not check it.
    changed_by: str = ""
    # The client that acted for the agency (token exchange's act claim: the
    # console), from the verified token; empty when the agency called itself.
    actor: str = ""

    @property
    def placeholders(self) -> list[str]:
        return placeholders.names_in(t for c in self.contents for t in (c.subject, c.body))

    @cached_property
    def _by_tag(self) -> dict[str, Content]:
        return {c.language.lower(): c for c in self.contents}

    def content_for(self, language: str) -> Content:
        """The requested language, else its parent tags ("zh-Hans-CN" -> "zh-Hans" ->
        "zh"), else the default."""
        if not language:
            return self.contents[0]
        by_tag = self._by_tag
        parts = language.lower().split("-")
        while parts:
            found = by_tag.get("-".join(parts))
            if found is not None:
                return found
            parts.pop()
        return self.contents[0]


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    body: str
    html: str = ""
    fragments: int = 0
    encoding: str = ""


def validate(channel: str, name: str, contents: Sequence[Content]) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    if channel not in CHANNELS:
        problems.append(FieldViolation("channel", "must be CHANNEL_EMAIL or CHANNEL_SMS"))
    if not name.strip() or len(name) > MAX_NAME:
        problems.append(FieldViolation("name", f"required, at most {MAX_NAME} characters"))
    if not contents or len(contents) > MAX_LANGUAGES:
        problems.append(FieldViolation("contents", f"1 to {MAX_LANGUAGES} languages"))
    seen: set[str] = set()
    for i, c in enumerate(contents):
        where = f"contents[{i}]"
        if not _LANGUAGE.match(c.language):
            problems.append(
                FieldViolation(f"{where}.language", "a BCP 47 tag such as en or zh-Hans")
            )
        elif c.language.lower() in seen:
            problems.append(FieldViolation(f"{where}.language", "appears twice"))
        seen.add(c.language.lower())
        limit = MAX_EMAIL_BODY if channel == "email" else MAX_SMS_BODY
        if not c.body.strip() or len(c.body) > limit:
            problems.append(
                FieldViolation(f"{where}.body", f"required, at most {limit} characters")
            )
        if channel == "email":
            if not c.subject.strip() or len(c.subject) > MAX_SUBJECT:
                problems.append(
                    FieldViolation(
                        f"{where}.subject", f"required, at most {MAX_SUBJECT} characters"
                    )
                )
        elif c.subject:
            problems.append(FieldViolation(f"{where}.subject", "SMS templates have no subject"))
        for text, part in ((c.subject, "subject"), (c.body, "body")):
            if text.count("((") != len(placeholders.find(text)):
                problems.append(
                    FieldViolation(f"{where}.{part}", "a '((' does not start a valid placeholder")
                )
    return problems


def check_values(values: Mapping[str, Value], field: str = "personalisation") -> dict[str, Value]:
    """Normalised values, or ``InvalidArgument`` for oversized input."""
    problems: list[FieldViolation] = []
    if len(values) > MAX_VALUES:
        problems.append(FieldViolation(field, f"at most {MAX_VALUES} values"))
    for key, value in values.items():
        size = len(value) if isinstance(value, str) else sum(len(v) for v in value)
        if size > MAX_VALUE_LENGTH:
            problems.append(
                FieldViolation(f"{field}.{key}", f"at most {MAX_VALUE_LENGTH} characters")
            )
    if problems:
        raise InvalidArgument.from_violations(problems)
    return placeholders.normalise_values(values)


def render(
    template: Template,
    values: Mapping[str, Value],
    language: str = "",
    *,
    with_html: bool = False,
    field: str = "personalisation",
) -> Rendered:
    """Render for sending. ``values`` must be normalised (``check_values``).

    Raises ``InvalidArgument`` naming every missing placeholder, or an SMS over
    the length limit.
    """
    content = template.content_for(language)
    lang = content.language
    absent = placeholders.missing((content.subject, content.body), values)
    if absent:
        raise InvalidArgument(
            "missing personalisation: " + ", ".join(absent),
            [FieldViolation(f"{field}.{name}", "missing: the template uses it") for name in absent],
        )
    if template.channel == "sms":
        text = placeholders.substitute(content.body, values, lang).strip()
        length = sms.measure(text)
        if length.characters > sms.MAX_CHARACTERS:
            raise InvalidArgument.from_violations(
                [
                    FieldViolation(
                        field,
                        f"the message is {length.characters} characters; "
                        f"at most {sms.MAX_CHARACTERS}",
                    )
                ]
            )
        return Rendered(lang, "", length.text, "", length.fragments, length.encoding)
    # A subject is one header line: no line breaks may come in through a value.
    subject = " ".join(placeholders.substitute(content.subject, values, lang).split())
    body = formatting.plain_text(content.body, values, lang)
    markup = ""
    if with_html:
        markup = formatting.html_document(
            subject, formatting.html_body(content.body, values, lang), lang
        )
    return Rendered(lang, subject, body, markup)


def check_changed_by(value: str) -> list[FieldViolation]:
    """``changed_by`` is free text for people: printable, at most MAX_CHANGED_BY."""
    if len(value) > MAX_CHANGED_BY or not all(c.isprintable() for c in value):
        return [FieldViolation("changed_by", f"at most {MAX_CHANGED_BY} printable characters")]
    return []
