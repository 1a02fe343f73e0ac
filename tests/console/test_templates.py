"""The console's repeated blocks live once, in console/templates/macros.html: a list's filters
and pager (``filters``, ``filter_select``, ``filtered_pagination``) and a secret shown once
with its Copy button (``shown_once``). A page that writes one out again fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "console" / "templates"
PAGES = sorted(p for p in TEMPLATES.rglob("*.html") if p.name != "macros.html")

# What only a macro may write, and the macro that does.
ONCE = [
    ('<form class="filters"', "filters"),
    ('<option value="">All</option>', "filter_select"),
    ("dictsort|selectattr(1)", "filtered_pagination"),
    ("shown only this once", "shown_once"),
]


@pytest.mark.parametrize(("markup", "macro"), ONCE)
def test_a_repeated_block_is_written_only_by_its_macro(markup, macro):
    macros = (TEMPLATES / "macros.html").read_text()
    assert markup in macros and f"macro {macro}(" in macros
    assert [p.relative_to(TEMPLATES).as_posix() for p in PAGES if markup in p.read_text()] == []


@pytest.mark.parametrize(
    ("page", "macro"),
    [
        ("audit.html", "filters"),
        ("activity.html", "filters"),
        ("directory/_filters.html", "filters"),
        ("audit.html", "filtered_pagination"),
        ("activity.html", "filtered_pagination"),
        ("directory/users.html", "filtered_pagination"),
        ("directory/groups.html", "filtered_pagination"),
        ("apikeys/index.html", "shown_once"),
        ("idps/advanced.html", "shown_once"),
        ("webhooks/index.html", "shown_once"),
        ("webhooks/show.html", "shown_once"),
    ],
)
def test_each_page_uses_the_macro(page, macro):
    source = (TEMPLATES / page).read_text()
    assert f"{macro}(" in source
