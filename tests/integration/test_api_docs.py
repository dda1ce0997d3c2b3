"""The API reference and the OpenAPI descriptions are generated from the protos
and must be current; the OpenAPI documents must hold together."""

from __future__ import annotations

import json
import re

import pytest

from scripts import api_reference, openapi
from scripts.proto_docs import SERVICES


def test_the_api_reference_is_current() -> None:
    assert api_reference.main(["--check"]) == 0, "run: python -m scripts.api_reference"


def test_the_openapi_documents_are_current() -> None:
    assert openapi.main(["--check"]) == 0, "run: python -m scripts.openapi"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_openapi_document_is_whole(service: str) -> None:
    path = openapi.OUT / f"{service}.json"
    document = json.loads(path.read_text())
    assert document["openapi"] == "3.1.0"
    # Where the JSON API answers under make run: the service's HTTP port.
    port = {"identity": 8081, "payments": 8082, "notify": 8083}[service]
    assert [s["url"] for s in document["servers"]] == [f"http://127.0.0.1:{port}"]
    schemas = document["components"]["schemas"]
    for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', path.read_text()):
        assert ref in schemas, ref
    paths = document["paths"]
    assert "/gaap.common.v1.CallerService/GetCallerIdentity" in paths
    for operation in (p["post"] for p in paths.values()):
        assert operation["description"], operation["operationId"]  # every method is commented
        assert set(operation["responses"]) == {"200", "default"}
