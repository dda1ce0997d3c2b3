"""``make run``'s supervisor: starts the platform, reports a dead process, stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import grpc
import httpx
from gaap.common.v1 import caller_pb2, caller_pb2_grpc

from tests.support import devstack

SERVICES = ("identity", "payments", "notify")


def _start(
    tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    stack = devstack.start(tmp_path / "var", env=env)
    return stack.process, stack.env


def _children(proc: subprocess.Popen[str]) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True, check=False
    )
    return [int(p) for p in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _demo_citizen_signs_in_at_cl_cm(stack: devstack.Devstack) -> None:
    """The demo citizen, through the demo agency's registered redirect URI, by
    the agency's profile (FAPI 2.0: PAR, private_key_jwt, DPoP)."""
    from gaap_client import OpenIdClient
    from gaap_client.client import agency_credentials
    from tests.support.oidc import CitizenBrowser, callback_params

    citizen = stack.demo("citizen")
    assert {"email", "password", "totp_secret"} <= citizen.keys()
    demo = stack.demo("agency")
    callback = stack.app_url + "/callback"
    rp = OpenIdClient(stack.issuer, agency_credentials(demo), callback, fapi2=True)
    pending = rp.start(acr_values=["Cl.Cm"])
    browser = CitizenBrowser(stack.issuer)
    response = browser.sign_in(
        pending.url, citizen["email"], citizen["password"], citizen["totp_secret"]
    )
    assert response.headers["location"].startswith(callback)
    signed_in = rp.finish(pending, callback_params(response))
    assert signed_in.token_type == "DPoP"
    assert signed_in.acr == "Cl.Cm"


def test_make_run_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    stack = devstack.start(tmp_path / "var")
    proc, env = stack.process, stack.env
    children = _children(proc)
    # 3 services, notify's worker, the SMTP sink, the SMS gateway, the demo agency app,
    # the console
    assert len(children) == 8
    assert httpx.get("http://" + env["DEMO_APP_HTTP_ADDRESS"] + "/").status_code == 200
    assert httpx.get("http://" + env["CONSOLE_HTTP_ADDRESS"] + "/").status_code == 200
    staff = json.loads((tmp_path / "var" / "demo" / "staff.json").read_text())
    assert {"email", "password", "totp_secret"} <= staff.keys()
    link = json.loads((tmp_path / "var" / "demo" / "payment-link.json").read_text())
    paying = httpx.get(link["url"])  # the demo payment link's public page, no sign-in
    assert paying.status_code == 200
    assert "Parking permit (demo)" in paying.text
    demo = stack.demo("agency")
    assert demo["profile"] == "fapi2"
    assert {"client_id", "private_key", "kid", "token_endpoint"} <= demo.keys()
    assert "client_secret" not in demo
    assert demo["token_endpoint"] == env["GAAP_ISSUER"] + "/oauth2/token"
    _demo_citizen_signs_in_at_cl_cm(stack)
    with stack.demo_agency() as agency:
        for name in SERVICES[1:]:
            reply = agency.caller(stack.grpc(name)).GetCallerIdentity(
                caller_pb2.GetCallerIdentityRequest()
            )
            assert reply.client_id == demo["client_id"]
        assert agency.tokens.dpop is not None  # bound tokens, a proof per call
    # The plain agency for a developer's own calls: a secret and a bearer token.
    api = stack.demo("api-agency")
    token = httpx.post(
        demo["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(api["client_id"], api["client_secret"]),
    ).json()["access_token"]
    for name in SERVICES[1:]:
        with grpc.insecure_channel(stack.grpc(name)) as channel:
            reply = caller_pb2_grpc.CallerServiceStub(channel).GetCallerIdentity(
                caller_pb2.GetCallerIdentityRequest(),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=10,
            )
            assert reply.client_id == api["client_id"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert not [pid for pid in children if _alive(pid)]


def test_make_run_delivers_the_demo_agencys_mail_and_sms_to_var(tmp_path: Path) -> None:
    from gaap.notify.v1 import notify_pb2 as pb

    stack = devstack.start(tmp_path / "var")
    proc = stack.process
    try:
        with stack.demo_agency() as agency:
            stub = agency.notify
            for channel_kind, to in (
                (pb.CHANNEL_EMAIL, "resident@example.com"),
                (pb.CHANNEL_SMS, "07912345678"),
            ):
                template = stub.CreateTemplate(
                    pb.CreateTemplateRequest(
                        channel=channel_kind,
                        name="Hello",
                        contents=[
                            pb.TemplateContent(
                                language="en",
                                subject="Hello" if channel_kind == pb.CHANNEL_EMAIL else "",
                                body="Hello ((name))",
                            )
                        ],
                        idempotency_key=f"t-{channel_kind}",
                    ),
                    timeout=10,
                )
                values = {"name": pb.PersonalisationValue(text="Ada")}
                if channel_kind == pb.CHANNEL_EMAIL:
                    stub.SendEmail(
                        pb.SendEmailRequest(
                            template_id=template.id,
                            email_address=to,
                            personalisation=values,
                            idempotency_key="e",
                        ),
                        timeout=10,
                    )
                else:
                    stub.SendSms(
                        pb.SendSmsRequest(
                            template_id=template.id,
                            phone_number=to,
                            personalisation=values,
                            idempotency_key="s",
                        ),
                        timeout=10,
                    )
        deadline = time.monotonic() + 30
        mail, sms = tmp_path / "var" / "mail", tmp_path / "var" / "sms"
        while time.monotonic() < deadline and not (
            list(mail.glob("*.eml")) and list(sms.glob("*.json"))
        ):
            time.sleep(0.1)
        [eml] = list(mail.glob("*.eml"))
        assert b"Hello Ada" in eml.read_bytes()
        [text] = list(sms.glob("*.json"))
        assert json.loads(text.read_text())["body"] == "Hello Ada"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0


def test_a_dead_service_is_reported_and_nothing_is_left_behind(tmp_path: Path) -> None:
    stack = devstack.start(tmp_path / "var")
    proc = stack.process
    children = _children(proc)
    os.kill(children[1], signal.SIGKILL)
    assert proc.wait(30) == 1
    assert "exited unexpectedly" in stack.log_text()
    assert not [pid for pid in children if _alive(pid)]


def test_the_demo_agency_is_reused_across_restarts(tmp_path: Path) -> None:
    first, env = _start(tmp_path)
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    saved = json.loads((tmp_path / "var" / "demo" / "agency.json").read_text())
    api = json.loads((tmp_path / "var" / "demo" / "api-agency.json").read_text())
    citizen = json.loads((tmp_path / "var" / "demo" / "citizen.json").read_text())
    second, _ = _start(tmp_path, env)  # the same ports, so the same redirect URI
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0
    assert json.loads((tmp_path / "var" / "demo" / "agency.json").read_text()) == saved
    assert json.loads((tmp_path / "var" / "demo" / "api-agency.json").read_text()) == api
    assert json.loads((tmp_path / "var" / "demo" / "citizen.json").read_text()) == citizen
