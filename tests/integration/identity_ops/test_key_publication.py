"""Replicas starting together on one database create one key per algorithm and
publish the same key set; every key that may sign is in every replica's JWKS
(issue 13 item 15). SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

from services.identity.bootstrap import Identity, open_identity
from services.identity.domain.signing_keys import ID_TOKEN_ALGORITHMS
from services.identity.settings import IdentitySettings
from services.runtime.config import PlatformSettings
from tests.support.platform import ISSUER


def test_two_replicas_starting_together_publish_one_key_set_with_every_signing_key(
    database_url: str, tmp_path: Path
) -> None:
    platform = PlatformSettings(issuer=ISSUER, var_dir=tmp_path)
    settings = IdentitySettings(database_url=database_url)
    replicas: list[Identity] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        try:
            barrier.wait()
            replicas.append(open_identity(platform, settings))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not failures, failures
        first, second = replicas
        published = [sorted(k["kid"] for k in r.keys.jwks()["keys"]) for r in replicas]
        assert published[0] == published[1]
        algs = sorted(k["alg"] for k in first.keys.jwks()["keys"])
        assert algs == sorted(ID_TOKEN_ALGORITHMS)  # one key each, no duplicates
        for signing, other in ((first, second), (second, first)):
            shown = {k["kid"] for k in other.keys.jwks()["keys"]}
            for alg in ("ES256", *ID_TOKEN_ALGORITHMS):
                assert signing.keys.signer(alg).kid in shown
            assert signing.keys.signer().kid in shown
    finally:
        for replica in replicas:
            replica.database.close()
