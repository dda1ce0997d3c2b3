"""Going live, and the platform operators' work on agencies.

A team's administrator asks to go live (``REQUEST_GO_LIVE``) with a reason and
a contact; one request waits at a time. A platform operator (named in
``CONSOLE_OPERATOR_EMAILS``, never a team role) lists the waiting requests and
approves one (identity's ``SetAgencyMode``, then the team is live: its
administrator creates the live secret on the credentials page) or refuses it
with a reason; operators also list every agency and disable one with a reason.
Everyone else is refused operators' work as if it did not exist (404). Each
decision is in the team's audit trail.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.console.domain.agency_settings import AgencyView
from services.console.domain.go_live import GoLiveRequest, check_request
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.domain.teams import Team
from services.console.service_layer.access import TeamAccess, authorise, record
from services.console.service_layer.agency_ports import AgencyAdmin
from services.console.service_layer.ports import ConsoleTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.runtime.ids import new_id

MAX_DISABLE_REASON = 1000


@dataclass(frozen=True)
class GoLiveStatus:
    access: TeamAccess
    latest: GoLiveRequest | None


@dataclass(frozen=True)
class WaitingRequest:
    request: GoLiveRequest
    team: Team


@dataclass(frozen=True)
class ListedAgency:
    agency: AgencyView
    team: Team | None  # None for an agency no console team manages


class GoingLive:
    def __init__(
        self, transactions: ConsoleTransactions, admin: AgencyAdmin, clock: Clock = utcnow
    ) -> None:
        self._uow = transactions
        self._admin = admin
        self._clock = clock

    # -- a team's administrator -----------------------------------------------------------

    def status(self, staff: Staff, team_id: str) -> GoLiveStatus:
        with self._uow.read() as uow:
            access = authorise(uow, staff, team_id, Action.REQUEST_GO_LIVE)
            return GoLiveStatus(access, uow.go_live.latest(team_id))

    def request(self, staff: Staff, team_id: str, reason: str, contact: str) -> GoLiveRequest:
        cleaned_reason, cleaned_contact = check_request(reason, contact)
        now = self._clock()
        with self._uow() as uow:
            access = authorise(uow, staff, team_id, Action.REQUEST_GO_LIVE)
            if access.team.mode == "live":
                raise FailedPrecondition("This agency is already live")
            latest = uow.go_live.latest(team_id)
            if latest is not None and latest.state == "pending":
                raise FailedPrecondition("A request to go live is already waiting")
            request = GoLiveRequest(
                new_id("golive"),
                team_id,
                staff.email,
                cleaned_reason,
                cleaned_contact,
                "pending",
                now,
            )
            uow.go_live.add(request)
            record(uow, staff, team_id, "request_go_live", now, request_id=request.id)
        return request

    # -- platform operators ---------------------------------------------------------------

    def waiting(self, staff: Staff) -> list[WaitingRequest]:
        _require_operator(staff)
        with self._uow.read() as uow:
            found = []
            for request in uow.go_live.pending():
                team = uow.teams.get(request.team_id)
                if team is not None:
                    found.append(WaitingRequest(request, team))
            return found

    def decide(self, staff: Staff, request_id: str, approve: bool, reason: str) -> GoLiveRequest:
        """Approve (the agency goes live at identity first, then the team) or refuse."""
        _require_operator(staff)
        with self._uow.read() as uow:
            request = uow.go_live.get(request_id)
            team = uow.teams.get(request.team_id) if request else None
        if request is None or team is None:
            raise NotFound("No such request")
        now = self._clock()
        decided = request.decide(approve, staff.email, reason, now)  # refusals before any call
        if approve:
            key = "console-golive-" + hashlib.sha256(request.id.encode()).hexdigest()[:40]
            self._admin.set_live(team.agency_id, key)
        with self._uow() as uow:
            current = uow.go_live.get(request.id)
            if current is None or current.state != "pending":
                raise FailedPrecondition("This request has already been decided")
            uow.go_live.save(decided)
            if approve:
                uow.teams.set_mode(team.id, "live")
            action = "approve_go_live" if approve else "refuse_go_live"
            record(uow, staff, team.id, action, now, request_id=request.id)
        return decided

    def agencies(self, staff: Staff) -> list[ListedAgency]:
        _require_operator(staff)
        listed = self._admin.all()
        with self._uow.read() as uow:
            return [ListedAgency(a, uow.teams.by_agency(a.agency_id)) for a in listed]

    def disable(self, staff: Staff, agency_id: str, reason: str, request_id: str) -> AgencyView:
        _require_operator(staff)
        text = reason.strip()
        if not text or len(text) > MAX_DISABLE_REASON or not text.isprintable():
            raise InvalidArgument.from_violations(
                [FieldViolation("reason", "Give the reason for disabling the agency")]
            )
        if not request_id:
            raise InvalidArgument.from_violations(
                [FieldViolation("request_id", "This page has expired. Please try again.")]
            )
        digest = hashlib.sha256(f"{staff.subject}\0{agency_id}\0{request_id}".encode())
        agency = self._admin.disable(agency_id, "console-disable-" + digest.hexdigest()[:40])
        with self._uow() as uow:
            team = uow.teams.by_agency(agency_id)
            if team is not None:
                record(uow, staff, team.id, "disable_agency", self._clock(), reason=text)
        return agency


def _require_operator(staff: Staff) -> None:
    # Operators' pages do not exist for anyone else: 404, not 403.
    if not staff.operator:
        raise NotFound("Page not found")
