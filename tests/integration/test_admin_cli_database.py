"""``gaap-admin`` finds the platform's database, says which one it uses, and never
starts a new one unless told to (``--create``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.runtime import db
from tests.integration.test_admin_cli import USING, admin, as_json, run_admin
from tests.support import databases


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL where identity has no database yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'elsewhere' / 'identity.db'}"
        return
    with databases.fresh_postgres_database(databases.require_postgres()) as url:
        yield url


def tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_new_database_is_refused_without_create_and_nothing_is_made(
    tmp_path: Path, new_database: str
) -> None:
    refused = admin(
        tmp_path, new_database, "create-agency", "--name", "X", "--scope", "notify:send", ok=False
    )
    assert refused.returncode == 2
    assert refused.stdout == ""
    [problem] = refused.stderr.strip().splitlines()
    assert problem.startswith(f"gaap-admin: {db.shown(new_database)} is not an identity database")
    assert "nothing was created" in problem
    assert "GAAP_VAR_DIR or IDENTITY_DATABASE_URL" in problem
    assert problem.endswith("add --create.")
    if new_database.startswith("sqlite"):
        assert not (tmp_path / "elsewhere").exists()
    else:
        assert tables(new_database) == []


def test_create_makes_it_before_or_after_the_command(tmp_path: Path, new_database: str) -> None:
    made = as_json(
        admin(
            tmp_path,
            new_database,
            "create-agency",
            "--create",
            "--name",
            "First agency",
            "--scope",
            "notify:send",
        )
    )
    assert "alembic_version" in tables(new_database)
    # From then on it is the platform's database: no --create needed, nothing lost.
    listed = as_json(admin(tmp_path, new_database, "list-agencies"))
    assert [a["client_id"] for a in listed] == [made["client_id"]]
    again = as_json(admin(tmp_path, new_database, "--create", "list-agencies"))
    assert again == listed


def test_the_default_database_is_identity_db_in_the_var_dir_from_any_folder(
    tmp_path: Path,
) -> None:
    """Without IDENTITY_DATABASE_URL: identity.db in GAAP_VAR_DIR, named by its
    absolute path, and the current folder plays no part."""
    var = tmp_path / "platform-var"
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    made = run_admin("--create", "list-agencies", cwd=elsewhere, GAAP_VAR_DIR=str(var))
    assert made.returncode == 0, made.stderr
    assert made.stderr.splitlines()[0] == f"{USING}sqlite:///{var / 'identity.db'}"
    assert (var / "identity.db").is_file()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.postgres
def test_the_database_line_never_shows_the_password(tmp_path: Path) -> None:
    with databases.fresh_postgres_database(databases.require_postgres()) as url:
        # The test server trusts local connections, so any password is accepted.
        with_password = sa.make_url(url).set(password="s3cret-pw").render_as_string(False)
        result = run_admin(
            "--create",
            "list-agencies",
            GAAP_VAR_DIR=str(tmp_path),
            IDENTITY_DATABASE_URL=with_password,
        )
        assert result.returncode == 0, result.stderr
        assert "s3cret-pw" not in result.stderr + result.stdout
        shown = sa.make_url(with_password).render_as_string(hide_password=True)
        assert result.stderr.splitlines()[0] == USING + shown
        assert ":***@" in shown
