"""The README's configuration table is generated from the settings classes."""

from __future__ import annotations

from pathlib import Path

from services.runtime.config import all_settings_classes, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_readme_configuration_table_matches_the_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table(all_settings_classes()) in readme, (
        "README.md's configuration table is stale: paste the output of "
        "`.venv/bin/python -m services.runtime.config`"
    )


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
