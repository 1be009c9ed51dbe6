"""Drafts that survive a refresh, a second tab and a closed tab (issue 10, point 5): kept on the
server under a token the console puts in its URL, expired a day after their last change."""
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import drafts, importing
from core.review import invalid_rows
from tests.helpers import ADMIN, count, csv_bytes, person
from tests.test_pages import click, console, metrics, shown, start_wizard, upload  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def drafts_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTACT_IMPORT_DRAFTS_DIR", str(tmp_path / "drafts"))
    return tmp_path / "drafts"


FILE = ("Name,Mail,Profile,Org,Org 2\n"
        "Ann Lee,ann@x.io,https://linkedin.com/in/ann,Acme,Beta\n"
        "Bob Ray,not-an-email,https://linkedin.com/in/bob,Acme,Beta\n"
        "Cy Dee,cy@x.io,https://linkedin.com/in/cy,Acme,Beta\n").encode()


def test_a_draft_comes_back_with_its_mapping_fixes_and_skips_from_its_file_alone(engine, drafts_folder):
    draft = importing.open_file(engine, FILE, "people.csv", source="Expo", campaign="Q4", created_by="kim")
    importing.confirm_mapping(engine, draft, {**draft.mapping, "company": ["Org 2"]})
    report = importing.validate_draft(draft)
    importing.apply_fixes(draft, invalid_rows(report).assign(email="bob@x.io"))
    draft.skipped[4] = "skipped: by hand"
    importing.validate_draft(draft)
    token = drafts.new_token()
    kept = drafts.save_draft(engine, token, draft, {"step": "review", "source": "Expo", "campaign": "Q4"})
    assert drafts.save_draft(engine, token, draft, {"step": "review"}, saved=kept) != kept
    drafts.save_draft(engine, token, draft, {"step": "review", "source": "Expo", "campaign": "Q4"})
    draft.release()  # the session's rows are let go; the file kept on the server is not

    resumed, wizard = drafts.load_draft(engine, token, ADMIN)
    assert wizard == {"step": "review", "source": "Expo", "campaign": "Q4"}
    assert (resumed.source, resumed.campaign, resumed.created_by) == ("Expo", "Q4", "kim")
    assert resumed.mapping["company"] == ["Org 2"] and resumed.skipped == {4: "skipped: by hand"}
    assert resumed.report.valid_count == 2 and resumed.review.will_insert == 2  # validated, reviewed
    assert resumed.report.normalized.set_index("__row__").loc[3, "email"] == "bob@x.io"
    result = importing.commit(engine, resumed)
    assert (result.inserted, result.invalid) == (2, 1) and count(engine, "drafts") == 1


def test_drafts_expire_a_day_after_their_last_change_with_their_files(engine, drafts_folder):
    draft = importing.open_file(engine, csv_bytes(person(1)), "old.csv", source="t")
    old, fresh = drafts.new_token(), drafts.new_token()
    for token in (old, fresh):
        drafts.save_draft(engine, token, draft, {"step": "map"})
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE drafts SET updated_at = now() - interval '25 hours' WHERE token = :t"),
                     {"t": old})
    assert drafts.load_draft(engine, old, ADMIN) is None  # expired, even before the sweep
    assert drafts.expire_drafts(engine) == 1
    assert sorted(p.name for p in drafts_folder.iterdir()) == [f"{fresh}.upload"]
    assert drafts.load_draft(engine, fresh, ADMIN) is not None
    assert drafts.load_draft(engine, "../../etc/passwd", ADMIN) is None  # a token is never a path


def test_a_refresh_resumes_the_wizard_where_it_was(console):
    at = upload(start_wizard(source="Expo"), "people.csv", FILE)
    token = at.query_params["draft"][0] if isinstance(at.query_params["draft"], list) else at.query_params["draft"]
    company = [s for s in at.selectbox if s.label == "Company"][0]
    company.set_value("Org 2").run()
    at = click(at, "Next: review")
    assert metrics(at)["Invalid"] == "1"

    # A refresh (or a second tab, or tomorrow): a new session with only the URL.
    refreshed = AppTest.from_file("../pages/new_import.py", default_timeout=60)
    refreshed.query_params["draft"] = token
    refreshed.run()
    assert not refreshed.exception
    assert "Review before anything is written" in refreshed.subheader[0].value
    assert metrics(refreshed)["Invalid"] == "1" and metrics(refreshed)["Will insert"] == "2"
    refreshed = click(click(refreshed, "Next: commit 2 contacts"), "Commit now")
    assert shown(refreshed.success[0].value) == "The import of people.csv completed."
    assert count(console, "drafts") == 0 and "draft" not in refreshed.query_params
    with console.connect() as conn:
        assert conn.execute(sa.text("SELECT company FROM contacts WHERE email = 'ann@x.io'")).scalar() == "Beta"


def test_a_draft_that_is_gone_says_so_and_starts_afresh(console):
    at = AppTest.from_file("../pages/new_import.py", default_timeout=60)
    at.query_params["draft"] = drafts.new_token()
    at.run()
    assert "no longer kept" in at.info[0].value and "draft" not in at.query_params
    assert at.text_input[0].label == "New source"


def test_starting_over_forgets_the_draft(console):
    at = upload(start_wizard(), "people.csv", FILE)
    assert count(console, "drafts") == 1
    at = click(at, "Back")
    at.file_uploader[0].set_value(("other.csv", csv_bytes(person(1)), "text/csv")).run()
    assert count(console, "drafts") == 1  # the new file's draft replaced the old one

