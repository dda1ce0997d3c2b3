"""A page token of digits from another script ("²" passes ``str.isdigit()`` and fails
``int()``) is refused as not ours, not an internal error."""

from __future__ import annotations

import pytest

from services.runtime.errors import InvalidArgument
from services.runtime.pagination import PageRequest
from tests.unit.payments.conftest import AGENCY, World


@pytest.mark.parametrize("token", ["²", "١", "１"])
def test_a_page_token_in_other_digits_is_refused_as_not_ours(w: World, token: str) -> None:
    payment = w.create()
    with pytest.raises(InvalidArgument) as refused:
        w.payments.events(AGENCY, payment.id, PageRequest(5, token))
    assert [v.field for v in refused.value.violations] == ["page_token"]
