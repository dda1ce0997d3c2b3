"""Consent per claim: a consent records the personal claims agreed one by one
(through the ``claims`` parameter) beside its scopes.

Existing consents agreed to scopes only, so they start with no claim agreed one
by one: the next request for such a claim asks the citizen. Live codes and
tokens keep, of the claims they were asked with, only those their own consented
scopes cover, so none of them releases a claim nobody agreed to.

Revision ID: 0006
Revises: 0005
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The claims each scope covers as of this revision (OpenID Connect Core §5.4).
_SCOPE_CLAIMS = {
    "profile": ("name", "given_name", "family_name", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}
_PERSONAL = {c for claims in _SCOPE_CLAIMS.values() for c in claims}


def upgrade() -> None:
    op.add_column(
        "consents",
        sa.Column("claims", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    bind = op.get_bind()
    for name in ("authorization_codes", "user_tokens"):
        _narrow(bind, name)


def _narrow(bind: sa.Connection, name: str) -> None:
    key = "code_hash" if name == "authorization_codes" else "id"
    table = sa.table(
        name, sa.column(key, sa.String), sa.column("scope", sa.String), sa.column("claims", sa.JSON)
    )
    query = sa.select(table.c[key], table.c.scope, table.c.claims).where(
        table.c.claims.is_not(None)
    )
    if name == "user_tokens":
        query = query.where(sa.text("revoked_at IS NULL"))
    for row in bind.execute(query).all():
        narrowed = _within_scopes(row.claims, row.scope.split())
        if narrowed != row.claims:
            bind.execute(table.update().where(table.c[key] == row[0]).values(claims=narrowed))


def _within_scopes(claims: Any, scopes: list[str]) -> Any:
    if not isinstance(claims, dict):
        return claims
    covered = {c for s in scopes for c in _SCOPE_CLAIMS.get(s, ())}
    return {
        member: {n: v for n, v in (wanted or {}).items() if n not in _PERSONAL or n in covered}
        for member, wanted in claims.items()
    }


def downgrade() -> None:
    op.drop_column("consents", "claims")
