"""The console's repeated blocks live once, in console/templates/macros.html: a list's filters
and pager (``filters``, ``filter_select``, ``filtered_pagination``), a secret shown once
with its Copy button (``shown_once``), a form of one POST button (``post_button``) and a table
row's cell holding one (``action_cell``), and a list's empty state (``empty_state``). A page
that writes one out again fails here."""

from __future__ import annotations

import re
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
    ('<div class="card empty"', "empty_state"),
]

# Written out, a form of one button: the CSRF field, hidden fields, the button.
ONE_BUTTON_FORM = re.compile(
    r'<form method="post"[^>]*>\s*\{\{ csrf\(\) \}\}\s*(?:<input type="hidden"[^>]*>\s*)*'
    r"<button[^>]*>[^<]*</button>\s*</form>"
)
# A row's action cell around a one-button form, written out.
CELL_AROUND_BUTTON = re.compile(r'<td class="actions">(?:(?!</td>).)*post_button\(', re.S)


@pytest.mark.parametrize(("markup", "macro"), ONCE)
def test_a_repeated_block_is_written_only_by_its_macro(markup, macro):
    macros = (TEMPLATES / "macros.html").read_text()
    assert markup in macros and f"macro {macro}(" in macros
    assert [p.relative_to(TEMPLATES).as_posix() for p in PAGES if markup in p.read_text()] == []


@pytest.mark.parametrize(
    ("pattern", "macro"),
    [(ONE_BUTTON_FORM, "post_button"), (CELL_AROUND_BUTTON, "action_cell")],
)
def test_a_one_button_form_is_written_only_by_its_macro(pattern, macro):
    macros = (TEMPLATES / "macros.html").read_text()
    assert f"macro {macro}(" in macros
    written = [p.relative_to(TEMPLATES).as_posix() for p in PAGES if pattern.search(p.read_text())]
    assert written == []


def test_the_patterns_find_what_they_forbid():
    form = """<form method="post" action="{{ url }}">
      {{ csrf() }}<input type="hidden" name="seq" value="{{ d.seq }}">
      <button type="submit" class="button small secondary">Redeliver</button>
    </form>"""
    cell = '<td class="actions">\n  {%- if shown %}{{ post_button(url, "Revoke", "button") }}'
    assert ONE_BUTTON_FORM.search(form) and CELL_AROUND_BUTTON.search(cell)


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
        ("apikeys/index.html", "action_cell"),
        ("idps/advanced.html", "action_cell"),
        ("webhooks/show.html", "action_cell"),
        ("idps/advanced.html", "post_button"),
        ("idps/delete.html", "post_button"),
        ("holds/show.html", "post_button"),
        ("webhooks/show.html", "post_button"),
        ("apikeys/index.html", "empty_state"),
        ("webhooks/index.html", "empty_state"),
        ("webhooks/show.html", "empty_state"),
        ("idps/index.html", "empty_state"),
        ("holds/index.html", "empty_state"),
        ("audit.html", "empty_state"),
        ("activity.html", "empty_state"),
        ("directory/users.html", "empty_state"),
        ("directory/groups.html", "empty_state"),
    ],
)
def test_each_page_uses_the_macro(page, macro):
    source = (TEMPLATES / page).read_text()
    assert f"{macro}(" in source
