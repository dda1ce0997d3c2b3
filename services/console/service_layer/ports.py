"""The console's ports: what its use cases keep (repositories on a unit of
work) and whom they call (identity's sign-in and agency registry, notify).

The SQL implementation is in ``adapters/``, the gRPC and OIDC ones too; tests
use the in-memory fakes in ``tests/fakes/console.py``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from services.console.domain.audit import AuditEntry
from services.console.domain.bulk_uploads import BulkUpload
from services.console.domain.go_live import GoLiveRequest
from services.console.domain.invitations import Invitation
from services.console.domain.payment_links import LinkPayment, PaymentLink, State
from services.console.domain.sessions import BrowserSession, SignedIn
from services.console.domain.teams import Member, NewAgency, Team
from services.runtime.unit_of_work import Transactions


class TeamStore(Protocol):
    def add(self, team: Team) -> None: ...

    def get(self, team_id: str) -> Team | None: ...

    def by_agency(self, agency_id: str) -> Team | None: ...

    def all(self, limit: int = 200) -> list[Team]: ...

    def set_mode(self, team_id: str, mode: str) -> None: ...


class MemberStore(Protocol):
    def add(self, member: Member) -> None: ...

    def get(self, team_id: str, subject: str) -> Member | None: ...

    def save(self, member: Member) -> None: ...

    def remove(self, team_id: str, subject: str) -> None: ...

    def of_team(self, team_id: str) -> list[Member]: ...

    def of_subject(self, subject: str) -> list[Member]: ...


class InvitationStore(Protocol):
    def add(self, invitation: Invitation) -> None: ...

    def by_token_hash(self, token_hash: str) -> Invitation | None: ...

    def save(self, invitation: Invitation) -> None: ...

    def pending(self, team_id: str, now: datetime) -> list[Invitation]: ...


class AuditTrail(Protocol):
    def record(self, entry: AuditEntry) -> None: ...

    def of_team(self, team_id: str, limit: int = 200) -> list[AuditEntry]: ...


class SessionStore(Protocol):
    """Browser sessions by the hash of their cookie (``domain.sessions.session_key``)."""

    def load(self, key: str) -> BrowserSession | None: ...

    def store(self, key: str, session: BrowserSession) -> None: ...

    def delete(self, key: str) -> None: ...

    def purge(self, expired_before: datetime) -> int:
        """Forget sessions ended by then (they name a staff member)."""
        ...


class PaymentLinkStore(Protocol):
    def add(self, link: PaymentLink) -> None: ...

    def get(self, team_id: str, link_id: str) -> PaymentLink | None: ...

    def by_slug(self, slug: str) -> PaymentLink | None: ...

    def set_state(self, link_id: str, state: State) -> None: ...

    def of_team(self, team_id: str, limit: int = 200) -> list[PaymentLink]: ...

    def record_payment(self, payment: LinkPayment) -> None:
        """Once per payment id; a second record of it changes nothing."""
        ...

    def payment_by_form(self, link_id: str, form_hash: str) -> LinkPayment | None: ...

    def payments(self, link_id: str, limit: int = 50) -> list[LinkPayment]:
        """The link's payments, newest first."""
        ...


class BulkUploadStore(Protocol):
    def add(self, upload: BulkUpload) -> None: ...

    def get(self, team_id: str, upload_id: str) -> BulkUpload | None: ...

    def mark_sent(self, upload_id: str, bulk_send_id: str) -> None:
        """Keep the bulk send's id and forget the rows and problems."""
        ...

    def purge(self, created_before: datetime) -> int:
        """Forget the uploads made before ``created_before``; how many."""
        ...


class GoLiveStore(Protocol):
    def add(self, request: GoLiveRequest) -> None: ...

    def get(self, request_id: str) -> GoLiveRequest | None: ...

    def save(self, request: GoLiveRequest) -> None: ...

    def latest(self, team_id: str) -> GoLiveRequest | None: ...

    def pending(self, limit: int = 200) -> list[GoLiveRequest]:
        """Oldest first."""
        ...


class ConsoleWork(Protocol):
    """One transaction's view of the console's data."""

    @property
    def teams(self) -> TeamStore: ...

    @property
    def members(self) -> MemberStore: ...

    @property
    def invitations(self) -> InvitationStore: ...

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def payment_links(self) -> PaymentLinkStore: ...

    @property
    def bulk_uploads(self) -> BulkUploadStore: ...

    @property
    def go_live(self) -> GoLiveStore: ...


ConsoleTransactions = Transactions[ConsoleWork]


# -- the platform, as the console's agency reaches it -------------------------------


class StaffSignIn(Protocol):
    """identity's OpenID Connect sign-in (authorization code + PKCE)."""

    def start(self, language: str) -> tuple[str, dict[str, Any]]:
        """The authorization URL, and what to keep until the callback."""
        ...

    def finish(self, pending: Mapping[str, Any], params: Mapping[str, str]) -> SignedIn:
        """Check the callback and redeem its code; ``SignInFailed`` otherwise."""
        ...


class AgencyRegistrar(Protocol):
    """identity's agency registry (CreateAgency, operator scope identity:agencies)."""

    def create_test_agency(self, name: str, idempotency_key: str) -> NewAgency: ...


class InvitationMailer(Protocol):
    """notify's SendEmail, as the console's own agency."""

    def send_invitation(
        self, *, to: str, team_name: str, inviter: str, link: str, language: str, key: str
    ) -> None: ...
