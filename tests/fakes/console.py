"""In-memory fakes of the console's ports (services/console/service_layer/ports.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.console.domain.audit import AuditEntry
from services.console.domain.bulk_uploads import BulkUpload
from services.console.domain.go_live import GoLiveRequest
from services.console.domain.invitations import Invitation
from services.console.domain.payment_links import LinkPayment, PaymentLink, State
from services.console.domain.sessions import BrowserSession, SignedIn, SignInFailed
from services.console.domain.staff import Staff
from services.console.domain.teams import Member, NewAgency, Team
from tests.fakes.transactions import FakeTransactions


@dataclass
class MemoryTeams:
    rows: dict[str, Team] = field(default_factory=dict)

    def add(self, team: Team) -> None:
        assert team.id not in self.rows
        assert all(t.agency_id != team.agency_id for t in self.rows.values()), "unique agency_id"
        self.rows[team.id] = team

    def get(self, team_id: str) -> Team | None:
        return self.rows.get(team_id)

    def by_agency(self, agency_id: str) -> Team | None:
        return next((t for t in self.rows.values() if t.agency_id == agency_id), None)

    def all(self, limit: int = 200) -> list[Team]:
        return sorted(self.rows.values(), key=lambda t: t.name)[:limit]

    def set_mode(self, team_id: str, mode: str) -> None:
        self.rows[team_id] = dataclasses.replace(self.rows[team_id], mode=mode)


@dataclass
class MemoryMembers:
    rows: dict[tuple[str, str], Member] = field(default_factory=dict)

    def add(self, member: Member) -> None:
        key = (member.team_id, member.subject)
        assert key not in self.rows, "the primary key refuses a second row"
        self.rows[key] = member

    def get(self, team_id: str, subject: str) -> Member | None:
        return self.rows.get((team_id, subject))

    def save(self, member: Member) -> None:
        if (member.team_id, member.subject) in self.rows:
            self.rows[(member.team_id, member.subject)] = member

    def remove(self, team_id: str, subject: str) -> None:
        self.rows.pop((team_id, subject), None)

    def of_team(self, team_id: str) -> list[Member]:
        return sorted(
            (m for m in self.rows.values() if m.team_id == team_id), key=lambda m: m.email
        )

    def of_subject(self, subject: str) -> list[Member]:
        return [m for m in self.rows.values() if m.subject == subject]


@dataclass
class MemoryInvitations:
    rows: dict[str, Invitation] = field(default_factory=dict)

    def add(self, invitation: Invitation) -> None:
        self.rows[invitation.id] = invitation

    def by_token_hash(self, token_hash: str) -> Invitation | None:
        return next((i for i in self.rows.values() if i.token_hash == token_hash), None)

    def save(self, invitation: Invitation) -> None:
        self.rows[invitation.id] = invitation

    def pending(self, team_id: str, now: datetime) -> list[Invitation]:
        found = [i for i in self.rows.values() if i.team_id == team_id and i.pending(now)]
        return sorted(found, key=lambda i: i.created_at)


@dataclass
class MemoryAudit:
    entries: list[AuditEntry] = field(default_factory=list)

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def of_team(self, team_id: str, limit: int = 200) -> list[AuditEntry]:
        return [e for e in reversed(self.entries) if e.team_id == team_id][:limit]


@dataclass
class MemorySessions:
    rows: dict[str, BrowserSession] = field(default_factory=dict)

    def load(self, key: str) -> BrowserSession | None:
        return self.rows.get(key)

    def store(self, key: str, session: BrowserSession) -> None:
        self.rows[key] = session

    def delete(self, key: str) -> None:
        self.rows.pop(key, None)

    def purge(self, expired_before: datetime) -> int:
        ended = [k for k, v in self.rows.items() if v.expires_at <= expired_before]
        for key in ended:
            del self.rows[key]
        return len(ended)


@dataclass
class MemoryPaymentLinks:
    rows: dict[str, PaymentLink] = field(default_factory=dict)
    paid: dict[str, LinkPayment] = field(default_factory=dict)

    def add(self, link: PaymentLink) -> None:
        assert link.id not in self.rows
        assert all(other.slug != link.slug for other in self.rows.values()), "unique slug"
        self.rows[link.id] = link

    def get(self, team_id: str, link_id: str) -> PaymentLink | None:
        link = self.rows.get(link_id)
        return link if link and link.team_id == team_id else None

    def by_slug(self, slug: str) -> PaymentLink | None:
        return next((link for link in self.rows.values() if link.slug == slug), None)

    def set_state(self, link_id: str, state: State) -> None:
        self.rows[link_id] = self.rows[link_id].in_state(state)

    def of_team(self, team_id: str, limit: int = 200) -> list[PaymentLink]:
        found = [link for link in self.rows.values() if link.team_id == team_id]
        return sorted(found, key=lambda link: (link.created_at, link.id), reverse=True)[:limit]

    def record_payment(self, payment: LinkPayment) -> None:
        self.paid.setdefault(payment.payment_id, payment)

    def payment_by_form(self, link_id: str, form_hash: str) -> LinkPayment | None:
        return next(
            (p for p in self.paid.values() if p.form_hash == form_hash and p.link_id == link_id),
            None,
        )

    def payments(self, link_id: str, limit: int = 50) -> list[LinkPayment]:
        found = [p for p in self.paid.values() if p.link_id == link_id]
        return sorted(found, key=lambda p: (p.created_at, p.payment_id), reverse=True)[:limit]


@dataclass
class MemoryBulkUploads:
    rows: dict[str, BulkUpload] = field(default_factory=dict)

    def add(self, upload: BulkUpload) -> None:
        assert upload.id not in self.rows
        self.rows[upload.id] = upload

    def get(self, team_id: str, upload_id: str) -> BulkUpload | None:
        upload = self.rows.get(upload_id)
        return upload if upload and upload.team_id == team_id else None

    def mark_sent(self, upload_id: str, bulk_send_id: str) -> None:
        self.rows[upload_id] = self.rows[upload_id].sent(bulk_send_id)

    def purge(self, created_before: datetime) -> int:
        old = [k for k, v in self.rows.items() if v.created_at < created_before]
        for key in old:
            del self.rows[key]
        return len(old)


@dataclass
class MemoryGoLive:
    rows: dict[str, GoLiveRequest] = field(default_factory=dict)

    def add(self, request: GoLiveRequest) -> None:
        assert request.id not in self.rows
        self.rows[request.id] = request

    def get(self, request_id: str) -> GoLiveRequest | None:
        return self.rows.get(request_id)

    def save(self, request: GoLiveRequest) -> None:
        self.rows[request.id] = request

    def latest(self, team_id: str) -> GoLiveRequest | None:
        mine = [r for r in self.rows.values() if r.team_id == team_id]
        return max(mine, key=lambda r: r.created_at, default=None)

    def pending(self, limit: int = 200) -> list[GoLiveRequest]:
        waiting = [r for r in self.rows.values() if r.state == "pending"]
        return sorted(waiting, key=lambda r: r.created_at)[:limit]


@dataclass
class MemoryConsoleWork:
    teams: MemoryTeams = field(default_factory=MemoryTeams)
    members: MemoryMembers = field(default_factory=MemoryMembers)
    invitations: MemoryInvitations = field(default_factory=MemoryInvitations)
    audit: MemoryAudit = field(default_factory=MemoryAudit)
    sessions: MemorySessions = field(default_factory=MemorySessions)
    payment_links: MemoryPaymentLinks = field(default_factory=MemoryPaymentLinks)
    bulk_uploads: MemoryBulkUploads = field(default_factory=MemoryBulkUploads)
    go_live: MemoryGoLive = field(default_factory=MemoryGoLive)


def console_transactions() -> FakeTransactions[MemoryConsoleWork]:
    return FakeTransactions(MemoryConsoleWork())


@dataclass
class FakeIdentitySignIn:
    """identity's sign-in: ``finish`` signs in ``next_staff`` if the state matches."""

    next_staff: Staff | None = None
    started: int = 0

    def start(self, language: str) -> tuple[str, dict[str, Any]]:
        self.started += 1
        return f"https://identity.test/authorize?n={self.started}", {"state": str(self.started)}

    def finish(self, pending: Mapping[str, Any], params: Mapping[str, str]) -> SignedIn:
        if params.get("state") != pending.get("state") or self.next_staff is None:
            raise SignInFailed("invalid_state")
        return SignedIn(self.next_staff, "id-token-" + self.next_staff.subject)


@dataclass
class FakeRegistrar:
    """identity's CreateAgency: one agency per idempotency key, its secret once."""

    created: dict[str, NewAgency] = field(default_factory=dict)

    def create_test_agency(self, name: str, idempotency_key: str) -> NewAgency:
        if idempotency_key in self.created:
            return NewAgency(self.created[idempotency_key].agency_id, "test", "")
        agency = NewAgency(f"ag_{len(self.created) + 1}", "test", f"secret-{len(self.created)}")
        self.created[idempotency_key] = agency
        return agency


@dataclass
class FakeMailer:
    sent: list[dict[str, str]] = field(default_factory=list)

    def send_invitation(
        self, *, to: str, team_name: str, inviter: str, link: str, language: str, key: str
    ) -> None:
        self.sent.append(
            {"to": to, "team": team_name, "inviter": inviter, "link": link, "language": language}
        )
