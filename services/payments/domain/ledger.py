"""Double-entry bookkeeping: every capture and refund is an entry whose lines
sum to zero.

Accounts (signed amounts, debit positive):
- ``provider:<name>``: money the provider holds for us (debited on capture).
- ``agency:<client_id>``: what we owe the agency (credited on capture).
A refund reverses both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    account: str
    amount: int  # minor units, debit positive, credit negative
    currency: str


def provider_account(provider: str) -> str:
    return f"provider:{provider}"


def agency_account(tenant: str) -> str:
    return f"agency:{tenant}"


def capture_entry(*, tenant: str, provider: str, amount: int, currency: str) -> list[Line]:
    return _balanced(
        [
            Line(provider_account(provider), amount, currency),
            Line(agency_account(tenant), -amount, currency),
        ]
    )


def refund_entry(*, tenant: str, provider: str, amount: int, currency: str) -> list[Line]:
    return _balanced(
        [
            Line(agency_account(tenant), amount, currency),
            Line(provider_account(provider), -amount, currency),
        ]
    )


def _balanced(lines: list[Line]) -> list[Line]:
    if sum(line.amount for line in lines) != 0 or any(line.amount == 0 for line in lines):
        raise ValueError("a ledger entry must balance and move money")
    return lines
