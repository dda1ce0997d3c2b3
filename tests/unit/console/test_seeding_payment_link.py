"""``make run``'s demo payment link: made once for the demo agency's team, by the
platform, and found again on the next run."""

from __future__ import annotations

import pytest

from services.console.domain.payment_links import check_slug
from services.console.service_layer.seeding import ensure_administrator, ensure_payment_link
from tests.unit.console.support import Console


def test_the_demo_link_is_made_once_for_the_demo_team() -> None:
    console = Console()
    team = ensure_administrator(
        console.uow, agency_id="ag_demo", team_name="Demo", subject="sub-sam", email="sam@x.test"
    )
    link = ensure_payment_link(console.uow, agency_id="ag_demo", clock=console.clock)
    assert (link.team_id, link.fixed_amount, link.created_by) == (team.id, 2500, "platform")
    assert link.active
    assert check_slug(link.slug)
    assert ensure_payment_link(console.uow, agency_id="ag_demo", clock=console.clock) == link
    assert len(console.work.payment_links.rows) == 1
    assert [e.action for e in console.work.audit.of_team(team.id)][:1] == ["create_payment_link"]


def test_no_team_no_link() -> None:
    with pytest.raises(LookupError):
        ensure_payment_link(Console().uow, agency_id="ag_none")
