"""The accessibility check can fail: axe, as the console's test runs it, finds an
unlabelled field, a page without a language and low-contrast text."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.axe import assert_accessible, violations

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_axe_reports_what_breaks_wcag(browser: Browser) -> None:
    page = browser.new_page()
    page.set_content(
        "<html><head><title>t</title></head><body><main><h1>Form</h1>"
        '<input type="text" name="x"><p style="color:#bbb;background:#fff">faint</p>'
        "</main></body></html>"
    )
    assert {v["id"] for v in violations(page)} >= {"label", "html-has-lang", "color-contrast"}
    with pytest.raises(AssertionError, match="label"):
        assert_accessible(page)
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main><h1>Form</h1>'
        '<label for="x">Name</label><input type="text" id="x" name="x"></main></body></html>'
    )
    assert_accessible(page)
    page.close()
