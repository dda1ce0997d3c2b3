"""identity's messages through notify over gRPC with gaap_client: identity is an
agency with its own credentials; each message kind becomes one notify template
in both languages, reused for every send."""

from __future__ import annotations

from gaap.notify.v1 import notify_pb2, notify_pb2_grpc

from gaap_client import ClientSecret, GaapClient, Targets, TokenSource
from services.identity.adapters.notify_messenger import NotifyMessenger, template_name
from services.identity.domain.messages import Kind
from tests.support.platform import Platform, bearer


def test_codes_and_alerts_go_through_notify_in_the_citizens_language(platform: Platform) -> None:
    agency = platform.secret_agency(scopes=["notify:send", "notify:templates", "notify:read"])
    token = platform.token(agency, scope="notify:send notify:templates notify:read")
    client = GaapClient(
        TokenSource(
            platform.token_url,
            ClientSecret(agency.client_id, agency.client_secret),
            scopes=["notify:send", "notify:templates"],
        ),
        Targets(notify=platform.notify.grpc_target),
    )
    messenger = NotifyMessenger(client.notify)
    messenger.send(
        Kind.VERIFY_EMAIL,
        "citizen@example.org",
        "zh-Hans",
        {"code": "482913", "minutes": "15"},
    )
    messenger.send(
        Kind.VERIFY_EMAIL, "other@example.org", "en", {"code": "551177", "minutes": "15"}
    )

    stub = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    templates = stub.ListTemplates(
        notify_pb2.ListTemplatesRequest(page_size=100), metadata=bearer(token)
    )
    named = [t for t in templates.templates if t.name == template_name(Kind.VERIFY_EMAIL)]
    assert len(named) == 1  # created once, then reused
    assert {c.language for c in named[0].contents} == {"en", "zh-Hans"}

    sent = stub.ListNotifications(
        notify_pb2.ListNotificationsRequest(page_size=10), metadata=bearer(token)
    )
    by_recipient = {n.recipient: n for n in sent.notifications}
    chinese = by_recipient["citizen@example.org"]
    assert chinese.subject == "您的 GaaP 安全验证码"
    assert "482913" in chinese.body
    assert "551177" in by_recipient["other@example.org"].body
    assert chinese.reference == "identity:verify_email"

    # A fresh messenger (another replica, a restart) finds the template by name.
    again = NotifyMessenger(client.notify)
    assert again.template_id(Kind.VERIFY_EMAIL) == named[0].id
    client.close()
