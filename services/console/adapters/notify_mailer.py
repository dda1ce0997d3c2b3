"""Invitation emails through notify, as the console's own agency.

The template is found by name (its name carries a fingerprint of its wording)
or created on first use, so no id needs keeping and a new wording makes a new
template.
"""

from __future__ import annotations

import hashlib
import threading

from gaap.notify.v1 import notify_pb2 as npb

from gaap_client import GaapClient

WORDINGS = (
    (
        "en",
        "You are invited to ((team)) on GaaP",
        "# Join ((team)) on GaaP\n\n"
        "((inviter)) has invited you to help run ((team)) in the GaaP console.\n\n"
        "Accept the invitation: ((link))\n\n"
        "Sign in with the GaaP account that uses this email address. "
        "The link works for 7 days.",
    ),
    (
        "zh-Hans",
        "邀请您加入 GaaP 上的 ((team))",
        "# 加入 GaaP 上的 ((team))\n\n"
        "((inviter)) 邀请您在 GaaP 控制台中协助管理 ((team))。\n\n"
        "接受邀请：((link))\n\n"
        "请使用此电子邮件地址的 GaaP 账户登录。链接 7 天内有效。",
    ),
)
FINGERPRINT = hashlib.sha256(repr(WORDINGS).encode()).hexdigest()[:12]
TEMPLATE_NAME = f"GaaP console: invitation ({FINGERPRINT})"


class NotifyMailer:
    def __init__(self, client: GaapClient) -> None:
        self._client = client
        self._template_id = ""
        self._lock = threading.Lock()

    def send_invitation(
        self, *, to: str, team_name: str, inviter: str, link: str, language: str, key: str
    ) -> None:
        values = {"team": team_name, "inviter": inviter, "link": link}
        self._client.notify.SendEmail(
            npb.SendEmailRequest(
                template_id=self._template(),
                email_address=to,
                personalisation={k: npb.PersonalisationValue(text=v) for k, v in values.items()},
                reference=f"console-invitation-{key}",
                language=language,
                idempotency_key=f"console-invitation-{key}",
            )
        )

    def _template(self) -> str:
        with self._lock:
            if not self._template_id:
                self._template_id = self._find() or self._create()
            return self._template_id

    def _find(self) -> str:
        token = ""
        while True:
            page = self._client.notify.ListTemplates(
                npb.ListTemplatesRequest(channel=npb.CHANNEL_EMAIL, page_size=500, page_token=token)
            )
            for template in page.templates:
                if template.name == TEMPLATE_NAME:
                    return str(template.id)
            token = page.next_page_token
            if not token:
                return ""

    def _create(self) -> str:
        created = self._client.notify.CreateTemplate(
            npb.CreateTemplateRequest(
                channel=npb.CHANNEL_EMAIL,
                name=TEMPLATE_NAME,
                contents=[
                    npb.TemplateContent(language=lang, subject=subject, body=body)
                    for lang, subject, body in WORDINGS
                ],
                idempotency_key=f"console-template-{FINGERPRINT}",
            )
        )
        return str(created.id)
