"""A code ticket as stored: the ticket (``one_time_codes.Ticket``) and what it
carries besides the code."""

from __future__ import annotations

from dataclasses import dataclass

from services.identity.domain.one_time_codes import Ticket


@dataclass(frozen=True)
class LoadedTicket:
    """A ticket with what it carries besides the code."""

    ticket: Ticket
    password_hash_value: str | None
    language: str
    phone_number: str | None = None  # where the code was texted

    @property
    def id(self) -> str:
        return self.ticket.id

    @property
    def email(self) -> str:
        return self.ticket.email
