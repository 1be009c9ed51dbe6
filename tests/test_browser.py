"""A few real-browser tests: Playwright drives Debian's chromium against `streamlit run app.py`."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.storage.embedded import PROJECT_ROOT
from tests.conftest import DATA
from tests.console_server import CHROMIUM, CHROMIUM_ARGS, console_server
from tests.helpers import csv_bytes, person

pytestmark = pytest.mark.browser
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def console_url(database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    # the guard on large changes asks from 4 changed contacts on, so that a test can meet it
    with console_server(database_url, log, CONTACT_IMPORT_USER="browser-test", CONTACT_IMPORT_GUARD_COUNT="3") as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `./dev test` installs it (apt-get install chromium).")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, console_url, engine, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(console_url)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def start_import(page, source: str, file_path: Path) -> None:
    page.get_by_label("New source").fill(source)
    page.get_by_label("New source").press("Enter")
    page.get_by_role("button", name="Next: upload the file").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(file_path))
    page.get_by_text("Map the columns of").wait_for()


def pick(page, combobox, option_name: str) -> None:
    """Choose an option of a selectbox: a rerun that lands while its list is open closes it (the
    page saves the draft in the background after an upload), so the list is opened again."""
    option = page.get_by_role("option", name=option_name, exact=True)
    for _ in range(3):
        combobox.click()
        try:
            option.wait_for(timeout=10_000)
            option.click()
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: the list closed, open it again
            continue
    raise AssertionError(f"the option {option_name!r} never showed")


def test_upload_map_review_commit_then_history(page, tmp_path):
    start_import(page, "Browser CSV", DATA / "seed.csv")
    page.get_by_role("button", name="Next: review").click()
    page.get_by_text("Every row is valid.").wait_for()
    page.get_by_role("button", name="Next: commit 2 contacts").click()
    page.get_by_role("button", name="Commit now").click()
    page.get_by_text("completed.").wait_for()
    assert page.get_by_test_id("stMetricValue").first.inner_text() == "2"
    page.get_by_role("link", name="Import history", exact=True).click()
    page.get_by_text("1 import · select a row to see its details", exact=True).wait_for()
    # Issue 10, point 9: a row of the table itself opens its details (the grid is a canvas: its
    # first row's selection box is clicked where it is drawn).
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    page.get_by_text("seed.csv — completed").wait_for()


def test_error_report_download_is_formula_safe(page, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(person(1), person(2, email="=HYPERLINK(\"http://x\")")))
    start_import(page, "Browser bad rows", bad)
    page.get_by_role("button", name="Next: review").click()
    page.get_by_text("1 invalid row", exact=True).wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the rows to fix (CSV)").click()
    assert download.value.suggested_filename == "bad-errors.csv"
    content = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert content.split("\r\n")[:2] == [
        "full_name,email,linkedin_profile,company,locale,timezone,metadata,errors",
        "Person 2,\"'=HYPERLINK(\"\"http://x\"\")\",https://linkedin.com/in/person2,,,,,"
        "row 3: email is not a valid email address"]


def test_user_data_is_shown_as_text_and_tables_offer_no_unsafe_download(page, tmp_path):
    # Issue 9, point 7: Markdown in cells (an image, a javascript: link, bare URLs that GFM would
    # link) stays text, and Streamlit's own CSV download, which keeps formulas, is not offered.
    hostile = tmp_path / "hostile.csv"
    hostile.write_bytes((DATA / "corpus" / "markdown_and_formulas.csv").read_bytes().replace(
        b"company\n", b"company,Website\n").replace(b"(1))\n", b"(1)),https://attacker.example/w\n")
        .replace(b",+cmd\n", b",+cmd,www.attacker.example\n"))
    start_import(page, "Browser hostile", hostile)
    page.get_by_text("attacker.example/p.png").first.wait_for()
    main = page.locator('[data-testid="stMain"]')
    assert main.locator('img[src*="attacker"]').count() == 0
    assert main.locator('a[href*="attacker"], a[href^="javascript"]').count() == 0
    page.get_by_role("button", name="Next: review").click()
    page.get_by_text("Every row is valid.").wait_for()
    page.get_by_role("button", name="Next: commit 2 contacts").click()
    page.get_by_role("button", name="Commit now").click()
    page.get_by_text("completed.").wait_for()
    page.get_by_role("link", name="Import history", exact=True).click()
    table = page.get_by_test_id("stDataFrame").first
    table.hover()
    page.get_by_test_id("stElementToolbar").first.wait_for(state="attached")
    assert page.get_by_role("button", name="Download as CSV").count() == 0


def test_a_refresh_mid_wizard_resumes_the_draft(page, browser, tmp_path):
    # Issue 10, point 5: the draft is named in the URL and kept on the server; a reload and a
    # second tab both come back to it, at the step it was on.
    people = tmp_path / "people.csv"
    people.write_bytes(csv_bytes(person(1), person(2, email="not-an-email"), person(3)))
    start_import(page, "Browser refresh", people)
    assert "?draft=" in page.url
    page.get_by_role("button", name="Next: review").click()
    page.get_by_text("1 invalid row", exact=True).wait_for()
    page.reload()
    page.get_by_text("Review before anything is written").wait_for()
    page.get_by_text("1 invalid row", exact=True).wait_for()
    other_tab = page.context.new_page()
    other_tab.goto(page.url)
    other_tab.get_by_text("Review before anything is written").wait_for()
    other_tab.close()
    page.get_by_role("button", name="Next: commit 2 contacts (skip 1 invalid row)").click()
    page.get_by_role("button", name="Commit now").click()
    page.get_by_text("completed.").wait_for()
    assert "draft=" not in page.url


def test_an_import_made_to_update_only_with_a_kept_field_changes_only_what_it_may(page, engine, tmp_path):
    # Issue 22: the mode chosen on the first step and a field's rule at the mapping step.
    from core.importing import import_file
    from tests.helpers import contacts
    import_file(engine, csv_bytes(person(71, company="Kept Inc", full_name="Old Name")), "stored.csv", "t")
    people = tmp_path / "people.csv"
    people.write_bytes(csv_bytes(person(71, company="Changed Inc", full_name="New Name"), person(72)))
    page.get_by_label("New source").fill("Browser modes")
    page.get_by_label("New source").press("Enter")
    page.get_by_text("Only update stored contacts (new emails are left out)").click()
    page.get_by_role("button", name="Next: upload the file").click()
    page.get_by_text("update only").wait_for()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(people))
    page.get_by_text("Map the columns of").wait_for()
    page.get_by_text("Contacts stored already: what may this import change?").click()
    rules = page.get_by_test_id("stExpander").filter(has_text="Contacts stored already")
    pick(page, rules.get_by_test_id("stSelectbox").filter(has_text="Company").get_by_role("combobox"),
         "Keep the stored value")
    page.get_by_text("Stored contacts: Company: keep the stored value").wait_for()
    page.get_by_role("button", name="Next: review").click()
    page.get_by_text("1 row whose email is not stored will be left out").wait_for()
    page.get_by_role("button", name="Next: commit 2 contacts").click()
    page.get_by_role("button", name="Commit now").click()
    page.get_by_text("completed.").wait_for()
    stored = contacts(engine)
    assert person(72)["email"] not in stored
    assert (stored[person(71)["email"]]["full_name"], stored[person(71)["email"]]["company"]) == ("New Name", "Kept Inc")


def test_kept_columns_and_a_confirmed_large_change_in_the_browser(page, engine, tmp_path):
    # Issue 22: an unmapped column kept as an extra field; a change of many stored contacts asks
    # for a confirmation that names its count (the console's guard, its bound lowered: console_url).
    from core.importing import import_file
    from tests.helpers import contacts
    import_file(engine, csv_bytes(*[person(n, company="Old") for n in range(81, 85)]), "stored.csv", "t")
    people = tmp_path / "people.csv"
    people.write_bytes(b"Name,Email,LinkedIn,Company,Job Title\n" + b"".join(
        f"Person {n},person{n}@example.com,https://linkedin.com/in/person{n},New,CTO\n".encode() for n in range(81, 85)))
    start_import(page, "Browser guard", people)
    page.get_by_text("Keep other columns as extra fields").click()
    pick(page, page.get_by_test_id("stMultiSelect").filter(has_text="Columns to keep").get_by_role("combobox"),
         "Job Title → job_title")
    page.keyboard.press("Escape")  # a multiselect's list stays open after a pick
    page.get_by_text("Job Title → job_title: CTO").wait_for()
    page.get_by_role("button", name="Next: review").click()
    page.get_by_text("will change 4 stored contacts of 4 (100%)").wait_for()
    forward = page.get_by_role("button", name="Next: commit 4 contacts")
    assert forward.is_disabled()
    page.get_by_text("Yes, change 4 stored contacts").click()
    forward.click()
    page.get_by_role("button", name="Commit now").click()
    page.get_by_text("completed.").wait_for()
    stored = contacts(engine)
    assert {stored[person(n)["email"]]["company"] for n in range(81, 85)} == {"New"}
    assert stored[person(81)["email"]]["metadata"] == {"job_title": "CTO"}


def test_a_safe_fix_ticked_in_the_review_is_made_and_recorded(page, engine, tmp_path):
    # Issue 22: the review offers each kind of safe fix with examples; a tick makes it, the
    # counts follow, and the contacts are stored fixed.
    from tests.helpers import contacts
    people = tmp_path / "expo.csv"
    people.write_bytes(b"Name,Email,LinkedIn\n"
                       b"Ann Fix,mailto:ann.fix@x.io,https://www.linkedin.com/in/ann-fix\n"
                       b"Bo Fix,bo.fix@x.io,linkedin.com/in/bo-fix\n")
    start_import(page, "Browser fixes", people)
    page.get_by_role("button", name="Next: review").click()
    page.get_by_text("Fixes we can make for you").wait_for()
    # user data is shown as text: an invisible word joiner follows "mailto" and "@" (pages.common.md)
    page.get_by_text("row 2: mailto").wait_for()
    page.get_by_text("taken off emails: 1 row").click()
    page.get_by_text("taken off emails: 1 row (fixed 1)").wait_for()
    page.get_by_text("added to LinkedIn URLs without it: 1 row").click()
    page.get_by_role("button", name="Next: commit 2 contacts").click()
    page.get_by_role("button", name="Commit now").click()
    page.get_by_text("completed.").wait_for()
    stored = contacts(engine)
    assert stored["ann.fix@x.io"]["full_name"] == "Ann Fix"
    assert stored["bo.fix@x.io"]["linkedin_profile"] == "https://linkedin.com/in/bo-fix"


def test_a_button_answers_the_first_click_after_typing(page):
    # Issue 23: the source typed and not sent yet (the box still has the focus) goes with the click.
    page.get_by_label("New source").fill("Typed, then clicked")
    page.get_by_role("button", name="Next: upload the file").click()
    page.get_by_text("Upload the contacts").wait_for()


def test_times_show_in_the_viewer_s_time_zone_named(browser, console_url, engine):
    # Issue 23: a viewer in New York reads History's times in New York time, and the zone is named.
    from core.importing import import_file
    record = import_file(engine, csv_bytes(person(90)), "zoned.csv", "t")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id="America/New_York")
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{console_url}/history?import={record.import_id}")
        page.get_by_text("zoned.csv — completed").wait_for()
        page.get_by_text("America/New_York", exact=False).first.wait_for()
        assert "UTC" not in page.get_by_test_id("stCaptionContainer").first.inner_text()
    finally:
        context.close()


def test_an_undo_that_waits_shows_its_time_so_far_moving(page, console_url, engine):
    # Issue 23: an undo is one statement, so its elapsed time is what it can show; here it waits
    # for a writer that holds one of its contacts, and the page says so every second until it ends.
    import sqlalchemy as sa

    from core.importing import import_file
    record = import_file(engine, csv_bytes(person(70), person(71)), "slow-undo.csv", "t")
    page.goto(f"{console_url}/history?import={record.import_id}")
    page.get_by_text("slow-undo.csv — completed").wait_for()
    page.get_by_role("tab", name="Undo").click()
    page.get_by_text("I understand: undo this import").click()
    with engine.connect() as holder:
        holder.execute(sa.text("SELECT 1 FROM contacts WHERE email = 'person70@example.com' FOR UPDATE"))
        page.get_by_role("button", name="Undo this import").click()
        seconds_shown = ("(after) => [...document.querySelectorAll('[data-testid=stProgress]')].map("
                         "b => b.innerText.match(/Undoing the import of 2 contacts… \\((\\d+) s\\)/)).some("
                         "m => m && +m[1] >= after)")
        page.wait_for_function(seconds_shown, arg=0)
        page.wait_for_function(seconds_shown, arg=2)  # it moves while it waits
        page.get_by_role("tab", name="Errors").click()  # a click meanwhile reruns the page once it is done
        holder.rollback()
    page.get_by_text("No rejected rows.").wait_for()
    page.get_by_role("tab", name="Undo").click()
    page.get_by_text("Undone: 2 contacts deleted").wait_for()  # what it did is kept for the page
    page.get_by_text("slow-undo.csv — reverted").wait_for()
    assert "completed" not in page.get_by_test_id("stSelectbox").filter(has_text="Details of").inner_text()


def test_a_link_to_a_page_as_a_fresh_server_s_first_visit_runs_the_app(browser, database_url, tmp_path):
    # Found in issue 23's walk: a server whose first visitor followed a link to History ran
    # pages/history.py alone, listing every file of pages/ (common, the admins' pages) in the
    # sidebar, until someone opened the root page.
    with console_server(database_url, tmp_path / "streamlit.log", CONTACT_IMPORT_USER="browser-test") as (url, _):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{url}/history")
            page.get_by_role("heading", name="Import history").wait_for()
            navigation = page.get_by_test_id("stSidebarNav")
            navigation.get_by_text("Import history", exact=True).wait_for()
            assert "common" not in navigation.inner_text()
        finally:
            context.close()


def test_a_bar_of_the_invalid_rows_chart_filters_the_errors_table(page, tmp_path):
    # Issue 23: the review shows the invalid rows by field and reason; clicking a bar keeps its rows.
    people = tmp_path / "mixed.csv"
    people.write_bytes(csv_bytes(person(1, email="bad-1"), person(2, email="bad-2"), person(3, email="bad-3"),
                                 person(4, linkedin_profile="https://example.com/x"), person(5)))
    start_import(page, "Chart", people)
    page.get_by_role("button", name="Next: review").click()
    page.get_by_text("4 invalid rows", exact=True).wait_for()
    chart = page.get_by_test_id("stVegaLiteChart").first
    chart.wait_for()
    page.get_by_text("Click a bar to see only its rows").wait_for()
    box = chart.bounding_box()
    # the bars run from the labels to the right; the largest (3 rows of Email) is the first
    page.mouse.click(box["x"] + box["width"] * 0.7, box["y"] + 5 + 14)
    page.get_by_text("Showing the 3 rows of the bars you picked").wait_for()


def test_a_large_download_is_prepared_with_its_progress_then_downloaded_whole(page, console_url, engine):
    # Issue 23: more than 20,000 contacts are built first, into a file, their progress shown.
    from core.importing import import_file
    from pages.common import LARGE_DOWNLOAD
    rows = LARGE_DOWNLOAD + 1
    record = import_file(engine, csv_bytes(*(person(n) for n in range(rows))), "big-download.csv", "t")
    page.goto(f"{console_url}/history?import={record.import_id}")
    page.get_by_text("big-download.csv — completed").wait_for()
    page.get_by_role("tab", name="Contacts").click()
    page.get_by_role("button", name="Prepare: download all contacts of this import (CSV)").click()
    download_button = page.get_by_role("button", name="Download all contacts of this import (CSV)", exact=True)
    download_button.wait_for()
    with page.expect_download() as download:
        download_button.click()
    lines = Path(download.value.path()).read_bytes().decode("utf-8-sig").split("\r\n")
    assert len(lines) == rows + 2 and lines[0].startswith("row,action,full_name,email") and lines[-1] == ""
