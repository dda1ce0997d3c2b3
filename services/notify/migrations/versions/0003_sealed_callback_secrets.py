"""Status callbacks' signing secrets are sealed at rest with NOTIFY_KEY_ENCRYPTION_KEY
(the column grows to hold a sealed secret; ``service_secrets`` holds the key's
check value), and no idempotency key keeps a secret in clear any more.

SetStatusCallback used to store its whole reply, secret included, as the key's
response; it now stores the callback's id (a ``StringValue``) and a replay reads
the secret again. Such a stored reply becomes the id of the callback it made if
that callback is still registered; otherwise (replaced or deleted since) the key
is forgotten. The callbacks' own secrets are sealed at the first start with a key
(``sealing.seal_once``), like payments' webhook secrets.

Revision ID: 0003
Revises: 0002
"""

import re

import sqlalchemy as sa
from alembic import op
from gaap.notify.v1 import notify_pb2
from google.protobuf.message import DecodeError
from google.protobuf.wrappers_pb2 import StringValue

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# webhook_signing.new_secret: "whsec_" and 32 random bytes in unpadded base64url.
_SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{43}")


def upgrade() -> None:
    with op.batch_alter_table("status_callbacks") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(100), type_=sa.String(255), existing_nullable=False
        )
    op.create_table(
        "service_secrets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    _forget_stored_secrets()


def _forget_stored_secrets() -> None:
    bind = op.get_bind()
    keys = sa.table(
        "idempotency_keys",
        sa.column("tenant", sa.String),
        sa.column("key", sa.String),
        sa.column("response", sa.LargeBinary),
    )
    callbacks = sa.table(
        "status_callbacks",
        sa.column("tenant", sa.String),
        sa.column("id", sa.String),
        sa.column("secret", sa.String),
    )
    rows = bind.execute(
        sa.select(keys.c.tenant, keys.c.key, keys.c.response).where(keys.c.response.is_not(None))
    ).all()
    for tenant, key, response in rows:
        secret = _callback_secret(bytes(response))
        if secret is None:
            continue
        made = bind.execute(
            sa.select(callbacks.c.id).where(
                callbacks.c.tenant == tenant, callbacks.c.secret == secret
            )
        ).scalar()
        where = sa.and_(keys.c.tenant == tenant, keys.c.key == key)
        if made is None:
            bind.execute(keys.delete().where(where))
        else:
            stored = StringValue(value=made).SerializeToString()
            bind.execute(keys.update().where(where).values(response=stored))


def _callback_secret(response: bytes) -> str | None:
    """The signing secret of a stored SetStatusCallback reply; None for any other
    response (every other reply of notify lacks a URL and such a secret)."""
    if _SECRET.search(response.decode("latin-1")) is None:
        return None
    try:
        reply = notify_pb2.StatusCallback.FromString(response)
    except DecodeError:
        return None
    if not reply.url.startswith(("http://", "https://")):
        return None
    if _SECRET.fullmatch(reply.signing_secret) is None:
        return None
    return reply.signing_secret


def downgrade() -> None:
    op.drop_table("service_secrets")
    with op.batch_alter_table("status_callbacks") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(255), type_=sa.String(100), existing_nullable=False
        )
