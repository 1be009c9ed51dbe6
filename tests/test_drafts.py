"""Drafts that survive a refresh, a second tab and a closed tab (issue 10, point 5): kept on the
server under a token the console puts in its URL, expired a day after their last change."""
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core.importing import drafts
from core import importing
from core.rows.fixes import invalid_rows
from tests.helpers import ADMIN, count, csv_bytes, person
from tests.test_pages import click, console, metrics, shown, start_wizard, upload  # noqa: F401 (fixture)



FILE = ("Name,Mail,Profile,Org,Org 2\n"
        "Ann Lee,ann@x.io,https://linkedin.com/in/ann,Acme,Beta\n"
        "Bob Ray,not-an-email,https://linkedin.com/in/bob,Acme,Beta\n"
        "Cy Dee,cy@x.io,https://linkedin.com/in/cy,Acme,Beta\n").encode()


def test_a_draft_comes_back_with_its_mapping_fixes_and_skips_from_its_file_alone(engine):
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
    assert resumed.import_id == draft.import_id  # one id from the upload to the import
    result = importing.commit(engine, resumed)
    assert (result.import_id, result.inserted, result.invalid, result.skipped) == (draft.import_id, 2, 0, 1)
    # Committed: the draft's row stays for its link, its file goes, and the link says so.
    assert (count(engine, "drafts"), count(engine, "draft_files")) == (1, 0)
    assert drafts.load_draft(engine, token, ADMIN) == drafts.Committed(draft.import_id, "people.csv")
    assert drafts.list_drafts(engine, ADMIN).empty


def test_drafts_expire_a_day_after_their_last_change_with_their_files(engine):
    draft = importing.open_file(engine, csv_bytes(person(1)), "old.csv", source="t")
    old, fresh = drafts.new_token(), drafts.new_token()
    for token in (old, fresh):
        drafts.save_draft(engine, token, draft, {"step": "map"})
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE drafts SET updated_at = now() - interval '25 hours' WHERE token = :t"),
                     {"t": old})
    assert drafts.load_draft(engine, old, ADMIN) is None  # expired, even before the sweep
    assert drafts.expire_drafts(engine) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT DISTINCT token FROM draft_files")).scalars().all() == [fresh]
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
    assert count(console, "draft_files") == 0 and "draft" not in refreshed.query_params
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
    drafts.settle_all()  # a draft's first save streams its file in the background
    assert count(console, "drafts") == 1
    at = click(at, "Back")
    at.file_uploader[0].set_value(("other.csv", csv_bytes(person(1)), "text/csv")).run()
    drafts.settle_all()
    assert count(console, "drafts") == 1  # the new file's draft replaced the old one



def tab_of(token: str) -> AppTest:
    """A new tab opening the draft's link (or a refresh, or another console server)."""
    tab = AppTest.from_file("../pages/new_import.py", default_timeout=60)
    tab.query_params["draft"] = token
    return tab.run()


def test_two_tabs_at_the_commit_step_commit_one_import_and_the_second_says_already_committed(console):
    # Issue 19, point 1: before, the second tab said "Other imports changed the stored contacts",
    # then failed, and its retry imported the same file a second time.
    at = click(upload(start_wizard(source="Expo"), "people.csv", FILE), "Next: review")
    token = at.query_params["draft"]
    at = click(at, "Next: commit")
    second = tab_of(token)  # opens at the step the draft is on
    assert "Commit now" in [b.label for b in second.button]
    at = click(at, "Commit now")
    assert shown(at.success[0].value) == "The import of people.csv completed."
    second = click(second, "Commit now")
    assert not second.error and not second.exception
    assert "was committed already" in shown(second.success[0].value)
    assert "Commit now" not in [b.label for b in second.button]
    assert count(console, "imports") == 1

    # The link, opened later: the import, never an invitation to start the same file again.
    later = tab_of(token)
    assert "was committed already" in shown(later.success[0].value) and not later.info
    assert count(console, "imports") == 1
