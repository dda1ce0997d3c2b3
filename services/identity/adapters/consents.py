"""Citizens' consents in identity's database (``ConsentRepository``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.tables import agencies, consents, user_tokens
from services.identity.domain.account_use import ConsentedAgency
from services.identity.domain.disclosure import Disclosure


class SqlConsents:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, account_id: str, client_id: str) -> Disclosure | None:
        c = consents
        row = self.session.execute(
            sa.select(c.c.scopes, c.c.claims).where(
                c.c.account_id == account_id, c.c.client_id == client_id
            )
        ).first()
        return None if row is None else Disclosure.of(row.scopes, row.claims)

    def put(self, account_id: str, client_id: str, consent: Disclosure, at: datetime) -> None:
        c = consents
        values = {
            "scopes": sorted(consent.scopes),
            "claims": sorted(consent.claims),
            "granted_at": at,
            "last_used_at": at,
        }
        updated = self.session.execute(
            c.update()
            .where(c.c.account_id == account_id, c.c.client_id == client_id)
            .values(**values)
            .returning(c.c.client_id)
        ).first()
        if updated is None:
            self.session.execute(
                c.insert().values(account_id=account_id, client_id=client_id, **values)
            )

    def delete(self, account_id: str, client_id: str) -> bool:
        c = consents
        removed = self.session.execute(
            c.delete()
            .where(c.c.account_id == account_id, c.c.client_id == client_id)
            .returning(c.c.client_id)
        ).all()
        return bool(removed)

    def of_account(self, account_id: str) -> list[ConsentedAgency]:
        c, a, t = consents, agencies, user_tokens
        last = (
            sa.select(t.c.client_id, sa.func.max(t.c.auth_time).label("last"))
            .where(t.c.account_id == account_id)
            .group_by(t.c.client_id)
            .subquery()
        )
        query = (
            sa.select(
                c.c.client_id,
                c.c.scopes,
                c.c.claims,
                c.c.granted_at,
                a.c.name,
                a.c.scopes.label("registered"),
                last.c.last,
            )
            .select_from(
                c.outerjoin(a, a.c.client_id == c.c.client_id).outerjoin(
                    last, last.c.client_id == c.c.client_id
                )
            )
            .where(c.c.account_id == account_id)
            .order_by(c.c.granted_at.desc())
        )
        return [
            ConsentedAgency(
                client_id=r.client_id,
                name=r.name,
                scopes=tuple(r.scopes),
                claims=tuple(r.claims or ()),
                registered=None if r.registered is None else tuple(r.registered),
                granted_at=r.granted_at,
                last_signed_in=r.last,
            )
            for r in self.session.execute(query)
        ]
