"""Keys written before idempotency had one stored format (identity kept the bare
id of the resource) still replay for as long as they live (24 hours)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from gaap.identity.v1 import identity_pb2
from google.protobuf.wrappers_pb2 import StringValue

from services.identity.adapters.tables import idempotency_keys
from tests.integration.identity_ops.support import OPERATOR_SCOPES, Caller, caller
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def operator(platform: Platform) -> Caller:
    return caller(platform, OPERATOR_SCOPES)


def _request(key: str) -> identity_pb2.CreateAgencyRequest:
    return identity_pb2.CreateAgencyRequest(
        name="Old Keys Office",
        scopes=["payments:create"],
        redirect_uris=["https://old-keys.example.gov/callback"],
        idempotency_key=key,
    )


def test_a_bare_id_stored_by_the_previous_release_still_replays(
    platform: Platform, operator: Caller
) -> None:
    key = uuid.uuid4().hex
    first = operator.stub.CreateAgency(_request(key), metadata=operator.metadata)
    k = idempotency_keys.c
    where = k.key == key  # a fresh uuid: this call's row alone
    with platform.admin.database.sessions.begin() as session:
        stored = session.execute(sa.select(k.response).where(where)).scalar_one()
        assert StringValue.FromString(stored).value == first.agency.id
        session.execute(
            idempotency_keys.update().where(where).values(response=first.agency.id.encode())
        )
    again = operator.stub.CreateAgency(_request(key), metadata=operator.metadata)
    assert again.agency == first.agency
    assert first.client_secret
    assert again.client_secret == ""
