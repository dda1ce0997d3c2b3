"""ListTemplateVersions over real gRPC (SQLite and PostgreSQL, after migration
0005): each version's wording, time and who made it (the caller's changed_by,
and no actor when the agency calls notify itself), a page at a time, for the
owning agency only."""

from __future__ import annotations

import uuid

import grpc
import pytest
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc

from tests.support.platform import Platform, bearer

pytestmark = pytest.mark.slow


def test_a_templates_versions_keep_who_made_them(platform: Platform) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    md = bearer(platform.token(platform.secret_agency()))
    created = stub.CreateTemplate(
        pb.CreateTemplateRequest(
            channel=pb.CHANNEL_SMS,
            name="Code",
            contents=[pb.TemplateContent(language="en", body="Code ((code))")],
            idempotency_key=uuid.uuid4().hex,
            changed_by="ada@agency.example",
        ),
        metadata=md,
    )
    assert (created.changed_by, created.actor) == ("ada@agency.example", "")
    for n in (2, 3):
        stub.UpdateTemplate(
            pb.UpdateTemplateRequest(
                template_id=created.id,
                name="Code",
                contents=[pb.TemplateContent(language="en", body=f"Code v{n} ((code))")],
                idempotency_key=uuid.uuid4().hex,
                changed_by=f"staff{n}@agency.example" if n == 2 else "",
            ),
            metadata=md,
        )
    first = stub.ListTemplateVersions(
        pb.ListTemplateVersionsRequest(template_id=created.id, page_size=2), metadata=md
    )
    assert [(v.version, v.changed_by) for v in first.versions] == [
        (3, ""),
        (2, "staff2@agency.example"),
    ]
    assert first.versions[1].contents[0].body == "Code v2 ((code))"
    rest = stub.ListTemplateVersions(
        pb.ListTemplateVersionsRequest(
            template_id=created.id, page_size=2, page_token=first.next_page_token
        ),
        metadata=md,
    )
    assert [(v.version, v.changed_by) for v in rest.versions] == [(1, "ada@agency.example")]
    assert rest.next_page_token == ""
    assert stub.GetTemplate(
        pb.GetTemplateRequest(template_id=created.id, version=2), metadata=md
    ).changed_by == ("staff2@agency.example")

    other = bearer(platform.token(platform.secret_agency()))
    with pytest.raises(grpc.RpcError) as hidden:
        stub.ListTemplateVersions(
            pb.ListTemplateVersionsRequest(template_id=created.id), metadata=other
        )
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as refused:
        stub.UpdateTemplate(
            pb.UpdateTemplateRequest(
                template_id=created.id,
                name="Code",
                contents=[pb.TemplateContent(language="en", body="x")],
                idempotency_key=uuid.uuid4().hex,
                changed_by="a\nb",
            ),
            metadata=md,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
