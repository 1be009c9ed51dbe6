"""One owner per import (issue 19), in a real browser: two tabs committing one draft, fixes that are
never dropped, and two console servers carrying on one draft."""
from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from pages.common import FIX_WIDTHS
from tests.console_server import console_server
from tests.helpers import count, csv_bytes, person
from tests.test_browser import WAIT_MS, browser, console_url, page, start_import  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


IDLE_WITHOUT_STALE_ELEMENTS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.dataset.testScriptState === 'notRunning'
        && document.querySelector('[data-stale="true"]') === null;
}"""


def settle(page) -> None:
    """Wait until no run of the page is going on. While a run goes on, the previous step's
    elements stay on screen (stale) until it ends: a text or button seen then may be the old step's."""
    page.wait_for_function(IDLE_WITHOUT_STALE_ELEMENTS)


def advance(page, button: str, shows: str, tries: int = 3) -> None:
    """Click a button of the settled page and wait until the settled page shows what it should. A
    click that lands while the page is still rerunning can be lost (Streamlit), so click again, up
    to tries times, while the button is there and its effect is not."""
    shown = page.get_by_text(shows).first
    settle(page)
    # a click's rerun reaches the page a moment after it: until then the page looks settled, so
    # what the click should show must not be there already
    assert not shown.is_visible(), f"{shows!r} shows before {button!r} is clicked"
    for attempt in range(tries):
        if attempt:
            settle(page)
            if shown.is_visible():  # the last click's run was slow, not lost
                return
        target = page.get_by_role("button", name=button)
        if target.count():
            try:
                target.click(timeout=5_000)
            except PlaywrightError:
                pass
        try:
            shown.wait_for(timeout=10_000)
        except PlaywrightError:
            continue
        settle(page)
        if shown.is_visible():
            return
    shown.wait_for()
    settle(page)
    expect(shown).to_be_visible()


def committed_imports(engine) -> int:
    return count(engine, "imports")


def test_two_tabs_committing_one_draft_make_one_import(page, engine, tmp_path):
    people = tmp_path / "people.csv"
    people.write_bytes(csv_bytes(person(1), person(2)))
    start_import(page, "Two tabs", people)
    advance(page, "Next: review", "Every row is valid.")
    advance(page, "Next: commit 2 contacts", "contacts will be written in one transaction")
    other = page.context.new_page()
    other.goto(page.url)
    other.get_by_role("button", name="Commit now").wait_for()

    advance(page, "Commit now", "The import of people.csv completed.")
    advance(other, "Commit now", "was committed already")
    other.get_by_text("See it in Import history").wait_for()
    expect(other.get_by_role("button", name="Commit now")).to_have_count(0, timeout=WAIT_MS)  # once the run ends
    assert other.get_by_text("Something went wrong").count() == 0
    assert committed_imports(engine) == 1
    other.get_by_text("See it in Import history").click()  # the link opens the import's details
    other.get_by_text("people.csv — completed").wait_for()


def fix_grid(page):
    """The data editor of the review's "Fix invalid rows" tab (the other tabs' grids are hidden)."""
    page.get_by_role("tab", name="Fix invalid rows").click()
    grid = page.locator('[role="tabpanel"]:visible [data-testid="stDataFrame"]')
    grid.wait_for()
    return grid


def edit_cell(page, grid, row: int, field: str, old: str, new: str, tries: int = 3) -> None:
    """Replace old by new in a field of the fix grid (a canvas): double-click the cell where the
    grid's fixed column widths put it, and fill its editor once it shows old."""
    widths = list(FIX_WIDTHS.values())
    left = sum(widths[:list(FIX_WIDTHS).index(field)]) + FIX_WIDTHS[field] / 2
    box = grid.bounding_box()
    editor = page.locator("textarea.gdg-input")
    for _ in range(tries):
        page.mouse.dblclick(box["x"] + left, box["y"] + 35 + 17 + 35 * row)
        try:
            editor.wait_for(timeout=5_000)
        except Exception:
            continue
        if editor.input_value() == old:
            editor.fill(new)
            editor.press("Enter")
            return
        page.keyboard.press("Escape")
    raise AssertionError(f"could not edit the cell holding {old!r}")


def test_fixes_typed_in_the_grid_are_never_dropped(page, engine, tmp_path):
    # Issue 19, point 2: before, "Next: commit" without "Re-validate" ignored the edits, and Back
    # showed the original values.
    people = tmp_path / "people.csv"
    people.write_bytes(csv_bytes(person(1), person(2, email="not-an-email")))
    start_import(page, "Fixes", people)
    advance(page, "Next: review", "Review before anything is written")
    edit_cell(page, fix_grid(page), 0, "email", "not-an-email", "fixed@example.com")
    page.get_by_text("1 row changed and not validated yet").wait_for()

    # not dropped: validated before going on, and shown
    advance(page, "Next: commit 1 contact (skip 1 invalid row)", "were validated before going on")
    advance(page, "Back", "Map the columns of")
    advance(page, "Next: review", "Every row is valid.")  # Back kept them
    advance(page, "Next: commit 2 contacts", "contacts will be written in one transaction")
    advance(page, "Commit now", "The import of people.csv completed.")
    with engine.connect() as conn:
        import sqlalchemy as sa
        emails = conn.execute(sa.text("SELECT email FROM contacts ORDER BY email")).scalars().all()
    assert emails == ["fixed@example.com", "person1@example.com"]


COLD_START_MS = 120_000


def test_a_draft_made_on_one_console_server_is_resumed_fixed_and_committed_on_another(
        page, browser, engine, database_url, tmp_path):
    people = tmp_path / "people.csv"
    people.write_bytes(csv_bytes(person(1), person(2, email="not-an-email")))
    start_import(page, "Two servers", people)
    advance(page, "Next: review", "Review before anything is written")
    page.get_by_text("1 invalid row", exact=True).wait_for()
    token = page.url.split("draft=")[1].split("&")[0]
    with console_server(database_url, tmp_path / "second.log", CONTACT_IMPORT_USER="browser-test") as (url, _):
        second = page.context.new_page()
        second.goto(f"{url}/?draft={token}")
        # A new server's first run imports the whole console, then reads the draft's file again.
        second.get_by_text("Review before anything is written").wait_for(timeout=COLD_START_MS)
        edit_cell(second, fix_grid(second), 0, "email", "not-an-email", "second@example.com")
        second.get_by_text("1 row changed and not validated yet").wait_for()
        advance(second, "Re-validate with my fixes", "Every row is valid.")
        advance(second, "Next: commit 2 contacts", "contacts will be written in one transaction")
        advance(second, "Commit now", "The import of people.csv completed.")
    page.reload()  # the first server's tab: the draft is an import now
    page.get_by_text("was committed already").wait_for()
    assert committed_imports(engine) == 1 and count(engine, "contacts") == 2
