"""The fakes keep what the SQL stores promise the worker, which runs transactions
on threads while it renders on its event loop: a template read is the reader's
own object, so rendering it changes nothing stored while another thread's
transaction copies the state for its rollback."""

from __future__ import annotations

from tests.unit.notify.conftest import AGENCY, Notify


def test_a_template_read_is_the_readers_own_copy(notify: Notify) -> None:
    made = notify.template()
    with notify.uow() as uow:
        read = uow.templates.get(AGENCY.client_id, made.id, made.version)
    assert read == made
    assert read is not None
    read.content_for("en")  # rendering caches the contents by language on the object
    (stored,) = notify.state.templates.versions[made.id]
    assert "_by_tag" not in vars(stored)
    assert stored is not made  # nor is what the use case stored the object it still holds
