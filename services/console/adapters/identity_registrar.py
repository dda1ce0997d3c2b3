"""identity's agency registry over gRPC, as the console's agency (operator
scope ``identity:agencies``): a team's agency is created in test mode."""

from __future__ import annotations

from gaap.common.v1 import caller_pb2
from gaap.identity.v1 import identity_pb2 as ipb

from gaap_client import GaapClient
from services.console.domain.teams import NewAgency

# What a new agency may ask for: the agency scopes of payments and notify.
TEST_AGENCY_SCOPES = (
    "payments:create",
    "payments:read",
    "payments:refund",
    "notify:send",
    "notify:templates",
    "notify:read",
)


class IdentityRegistrar:
    def __init__(self, client: GaapClient) -> None:
        self._client = client

    def create_test_agency(self, name: str, idempotency_key: str) -> NewAgency:
        reply = self._client.identity.CreateAgency(
            ipb.CreateAgencyRequest(
                name=name,
                mode=caller_pb2.MODE_TEST,
                scopes=list(TEST_AGENCY_SCOPES),
                idempotency_key=idempotency_key,
            )
        )
        mode = "live" if reply.agency.mode == caller_pb2.MODE_LIVE else "test"
        return NewAgency(reply.agency.id, mode, reply.client_secret)
