"""Write docs/openapi/<service>.json: the JSON API of each service (Connect unary
over HTTP), generated from the proto descriptors with the proto comments.

``python -m scripts.openapi`` (``--check`` exits 1 if a file is not current).
Each service also serves the same description, without comments, at
``/openapi.json`` on its HTTP port.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gaap.common.v1.caller_pb2
import gaap.identity.v1.identity_pb2
import gaap.notify.v1.notify_pb2
import gaap.payments.v1.payments_pb2  # noqa: F401 - registers the descriptors

from scripts.proto_docs import ROOT, SERVICES, load
from services.identity.settings import IdentitySettings
from services.notify.settings import NotifySettings
from services.payments.settings import PaymentsSettings
from services.runtime.config import ServerSettings
from services.runtime.openapi import openapi_document

OUT = ROOT / "docs" / "openapi"
SETTINGS: dict[str, type[ServerSettings]] = {
    "identity": IdentitySettings,
    "payments": PaymentsSettings,
    "notify": NotifySettings,
}


def servers(name: str) -> list[dict[str, str]]:
    """make run's address of the service's HTTP port, where its JSON API answers."""
    return [
        {
            "url": f"http://127.0.0.1:{SETTINGS[name].default_http_port}",
            "description": "make run on your machine. A deployed platform serves the same "
            "paths on the service's public HTTPS address.",
        }
    ]


def documents() -> dict[Path, str]:
    comments = load().comments
    return {
        OUT / f"{name}.json": json.dumps(
            openapi_document(
                list(services), title=f"GaaP {name}", comments=comments, servers=servers(name)
            ),
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
        for name, services in SERVICES.items()
    }


def main(argv: list[str]) -> int:
    stale = []
    for path, text in documents().items():
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for path in stale:
        sys.stderr.write(f"{path} is not current: run python -m scripts.openapi\n")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
