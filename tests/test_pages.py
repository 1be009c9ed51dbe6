"""Page logic through Streamlit's AppTest, on the test database."""
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core.importing import jobs as commit_jobs
from core.access.keys import key_actor
from core.storage.campaigns import create_campaign
from core.storage.history import get_import, list_imports
from core.importing import import_file
from tests.conftest import DATA
from tests.helpers import ADMIN, count, csv_bytes, holding, open_tab, person


TIMEOUT = 60


@pytest.fixture
def console(database_url, engine, monkeypatch):
    """Pages read DATABASE_URL like the real console does."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CONTACT_IMPORT_USER", "kim")
    return engine


def page(name: str) -> AppTest:
    return AppTest.from_file(f"../pages/{name}.py", default_timeout=TIMEOUT).run()


def click(at: AppTest, label: str) -> AppTest:
    matches = [b for b in at.button if b.label.startswith(label)]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    at = matches[0].click().run()
    if label == "Commit now":  # the commit runs in the background; the page shows it when it ends
        at = finish_commits(at)
    return at


def finish_commits(at: AppTest) -> AppTest:
    """Wait for the background commits, then rerun the page, as its timer would."""
    for job in commit_jobs.running_jobs():
        assert job.finished.wait(TIMEOUT), f"the commit of import {job.import_id} did not end"
    return at.run()


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def start_wizard(source="csv", campaign=None) -> AppTest:
    at = page("new_import")
    at.text_input[0].set_value(source).run()
    if campaign:
        at.selectbox[1].set_value("+ New campaign…").run()
        at.text_input[1].set_value(campaign).run()
    return click(at, "Next: upload")


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "text/csv")).run()
    no_exceptions(at)
    return at


def shown(markdown: str) -> str:
    """What a Markdown element shows: user data reaches it escaped (pages.common.md)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def metrics(at: AppTest) -> dict:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("name", ["new_import", "history", "campaigns", "api_keys", "personal_data"])
def test_every_page_renders_without_error(console, name):
    at = page(name)
    no_exceptions(at)
    assert not at.error


def test_wizard_imports_the_seed_csv_and_history_shows_it(console):
    at = start_wizard(source="csv", campaign="Q4 Outreach")
    assert shown(at.caption[0].value) == "Source: csv · campaign: Q4 Outreach"  # issue 10, point 9
    assert "up to 256 MB" in at.caption[1].value  # the reader's own limit (issue 9, point 12)
    assert [b.label for b in at.get("download_button")] == ["Download a template CSV"]
    at = upload(at, "seed.csv", (DATA / "seed.csv").read_bytes())
    assert "Map the columns of seed.csv" in shown(at.subheader[0].value)
    at = click(at, "Next: review")
    assert metrics(at) == {"Rows in file": "2", "Valid": "2", "Invalid": "0", "Duplicates in file": "0",
                           "Will insert": "2", "Will update": "0", "Unchanged": "0"}
    at = click(at, "Next: commit 2 contacts")
    at = click(at, "Commit now")
    no_exceptions(at)
    assert metrics(at) == {"Inserted": "2", "Updated": "0", "Unchanged": "0", "Invalid": "0",
                           "Duplicates in file": "0", "Contacts linked": "2", "Rows in file": "2"}
    assert "Q4 Outreach" in at.info[0].value
    assert not [b for b in at.button if b.label == "Commit now"]  # cannot commit twice
    stored = list_imports(console).iloc[0]
    assert (stored.status, stored.file_name, stored.campaign, stored.created_by) == (
        "completed", "seed.csv", "Q4 Outreach", "kim")
    history = page("history")
    assert "seed.csv" in history.dataframe[0].value["file_name"].tolist()


def test_wizard_maps_a_hubspot_export_with_first_and_last_name(console):
    data = (b"First Name,Last Name,Email,LinkedIn URL,Company Name\n"
            b"Ann,Lee,ann@x.io,https://linkedin.com/in/ann,Acme\n")
    at = upload(start_wizard(), "hubspot.csv", data)
    assert at.multiselect[0].value == ["First Name", "Last Name"]
    at = click(at, "Next: review")
    at = click(at, "Next: commit 1 contact")
    at = click(at, "Commit now")
    assert metrics(at)["Inserted"] == "1"


def test_unmapped_required_field_blocks_the_next_step(console):
    at = upload(start_wizard(), "people.csv", b"Who,Mail\nAnn,ann@x.io\n")
    assert "Full name, LinkedIn profile" in at.error[0].value
    assert [b for b in at.button if b.label == "Next: review"][0].disabled


def test_invalid_rows_are_listed_with_their_row_numbers_and_skipped(console):
    data = csv_bytes(person(1), person(2, email="nope"), person(3, linkedin_profile="https://x.com/in/p3"))
    at = click(upload(start_wizard(), "bad.csv", data), "Next: review")
    assert metrics(at)["Invalid"] == "2"
    errors = at.dataframe[0].value
    assert errors[["row", "column"]].values.tolist() == [[3, "Email"], [4, "LinkedIn profile"]]
    assert any(d.label == "Download the rows to fix (CSV)" for d in at.get("download_button"))
    at = click(at, "Next: commit 1 contact (skip 2 invalid rows)")
    at = click(at, "Commit now")
    assert metrics(at)["Invalid"] == "2" and count(console, "contacts") == 1


def test_review_shows_what_changes_for_existing_contacts(console):
    import_file(console, csv_bytes(person(1, company="Old")), "first.csv", "csv")
    at = click(upload(start_wizard(), "second.csv", csv_bytes(person(1, company="New"))), "Next: review")
    assert metrics(at)["Will update"] == "1"
    changes = next(d.value for d in at.dataframe if "field" in d.value.columns)
    assert changes[["field", "old", "new"]].values.tolist() == [["Company", "Old", "New"]]


def test_an_import_made_to_only_update_leaves_new_emails_out_and_says_so(console):
    import_file(console, csv_bytes(person(1, company="Old")), "first.csv", "csv")
    at = page("new_import")
    at.text_input[0].set_value("csv").run()
    at.radio[0].set_value("update").run()
    at = click(at, "Next: upload")
    assert shown(at.caption[0].value) == "Source: csv · update only"
    at = click(upload(at, "second.csv", csv_bytes(person(1, company="New"), person(2))), "Next: review")
    assert {k: metrics(at)[k] for k in ("Will insert", "Will update", "Not found")} == {
        "Will insert": "0", "Will update": "1", "Not found": "1"}
    assert any("1 row whose email is not stored will be left out" in c.value for c in at.caption)
    at = click(click(at, "Next: commit"), "Commit now")
    no_exceptions(at)
    assert (metrics(at)["Updated"], metrics(at)["Not found"], metrics(at)["Inserted"]) == ("1", "1", "0")
    assert count(console, "contacts") == 1
    record = list_imports(console).iloc[0]
    assert (record["mode"], record["not_found"]) == ("update", 1)
    history = page("history")
    history.selectbox(key="history_selected").set_value(record["id"]).run()
    assert "update only" in shown(" ".join(c.value for c in history.caption))
    assert metrics(history)["Not found"] == "1" and "Already there" not in metrics(history)


def test_a_field_rule_set_at_the_mapping_keeps_the_stored_value_and_is_offered_again(console):
    import_file(console, csv_bytes(person(1, company="Old", full_name="Ann")), "first.csv", "csv")
    data = csv_bytes(person(1, company="New", full_name="Ann B"), person(2, company="Fresh"))
    at = upload(start_wizard(), "second.csv", data)
    rule = next(s for s in at.selectbox if s.key and s.key.endswith("_company"))
    rule.set_value("keep").run()
    at = click(at, "Next: review")
    changes = next(d.value for d in at.dataframe if "field" in d.value.columns)
    assert changes["field"].tolist() == ["Full name"]
    assert any("Company: keep the stored value" in c.value for c in at.caption)
    at = click(click(at, "Next: commit"), "Commit now")
    no_exceptions(at)
    stored = {row.email: row for row in console.connect().execute(sa.text("SELECT email, company FROM contacts"))}
    assert (stored[person(1)["email"]].company, stored[person(2)["email"]].company) == ("Old", "Fresh")
    again = upload(start_wizard(), "third.csv", data)  # the same headers: the mapping and its rules again
    assert next(s for s in again.selectbox if s.key and s.key.endswith("_company")).value == "keep"


def test_columns_no_field_takes_can_be_kept_as_extra_fields(console):
    data = (b"Name,Email,LinkedIn,Job Title,Lead Status\n"
            b"Ann Lee,ann@x.io,https://linkedin.com/in/ann,CTO,Open\n")
    at = upload(start_wizard(), "hubspot.csv", data)
    kept = next(m for m in at.multiselect if m.key and m.key.startswith("extras_"))
    assert kept.options == ["Job Title → job_title", "Lead Status → lead_status"]
    kept.set_value(["Job Title"]).run()
    assert any(shown(c.value) == "**Job Title** → job_title: CTO" for c in at.caption)
    at = click(click(click(at, "Next: review"), "Next: commit"), "Commit now")
    no_exceptions(at)
    with console.connect() as conn:
        assert conn.execute(sa.text("SELECT metadata FROM contacts")).scalar_one() == {"job_title": "CTO"}


def test_a_column_of_plain_values_mapped_to_extra_fields_is_flagged_at_the_mapping(console):
    data = (b"Name,Email,LinkedIn,Notes\n"
            b"Ann Lee,ann@x.io,https://linkedin.com/in/ann,Met at the expo\n")
    at = upload(start_wizard(), "notes.csv", data)
    metadata_row = next(s for s in at.selectbox if s.options and "Notes" in s.options and s.key and "metadata" in s.key)
    metadata_row.set_value("Notes").run()
    assert any("'Notes' is mapped to Extra fields, but 1 of its first 1 values are not JSON objects" in shown(w.value)
               for w in at.warning)


def test_a_large_change_asks_for_a_confirmation_that_names_its_count(console, monkeypatch):
    monkeypatch.setenv("CONTACT_IMPORT_GUARD_COUNT", "2")
    import_file(console, csv_bytes(*[person(n, company="Old") for n in range(1, 5)]), "first.csv", "csv")
    at = click(upload(start_wizard(), "second.csv", csv_bytes(*[person(n, company="New") for n in range(1, 4)])),
               "Next: review")
    assert any("will change 3 stored contacts of 4 (75%)" in shown(w.value) for w in at.warning)
    forward = next(b for b in at.button if b.label.startswith("Next: commit"))
    assert forward.disabled
    at.checkbox(key=next(c.key for c in at.checkbox if c.key.startswith("confirm_changes_"))).check().run()
    at = click(click(at, "Next: commit"), "Commit now")
    no_exceptions(at)
    assert metrics(at)["Updated"] == "3"


def test_an_unreadable_file_shows_the_message_not_a_crash(console):
    at = start_wizard()
    at.file_uploader[0].set_value(("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "text/csv")).run()
    no_exceptions(at)
    assert "photo.csv: this is a binary file" in shown(at.error[0].value)
    assert count(console, "imports") == 0


def test_wizard_state_survives_a_page_switch(console):
    at = start_wizard(source="LinkedIn")
    at.switch_page("../pages/history.py").run()
    at.switch_page("../pages/new_import.py").run()
    assert at.file_uploader, "still on the upload step"


def test_history_filters_and_shows_an_imports_detail(console):
    first = import_file(console, csv_bytes(person(1), person(2, email="bad")), "alpha.csv", "HubSpot")
    import_file(console, csv_bytes(person(3)), "beta.csv", "Apollo")
    at = page("history")
    assert at.dataframe[0].value["file_name"].tolist() == ["beta.csv", "alpha.csv"]
    at.text_input[0].set_value("alp").run()
    assert at.dataframe[0].value["file_name"].tolist() == ["alpha.csv"]
    at.selectbox[3].set_value(first.import_id).run()
    no_exceptions(at)
    assert {m.label: m.value for m in at.metric}["Invalid"] == "1"
    errors = at.dataframe[1].value
    assert errors["reason"].tolist() == ["is not a valid email address"]


def test_history_attaches_an_import_to_a_campaign(console):
    result = import_file(console, csv_bytes(person(1)), "gamma.csv", "csv")
    at = page("history")
    at.selectbox[3].set_value(result.import_id).run()
    open_tab(at, result.import_id, "Campaign")
    at.text_input[1].set_value("Summer")  # inside a form: submitted with the click
    at.button[0].click().run()
    no_exceptions(at)
    assert list_imports(console).iloc[0].campaign == "Summer"


def test_campaigns_page_creates_and_lists_campaigns(console):
    create_campaign(console, "Winter")
    at = page("campaigns")
    at.text_input[0].set_value("Spring")
    at.button[0].click().run()
    no_exceptions(at)
    assert sorted(at.dataframe[0].value["name"]) == ["Spring", "Winter"]


def test_the_user_named_in_secrets_is_recorded_on_the_import(console):
    at = AppTest.from_file("../pages/new_import.py", default_timeout=TIMEOUT)
    at.secrets["console_user"] = "dana@sales"
    at.run()
    at.text_input[0].set_value("csv").run()
    at = click(at, "Next: upload")
    at = click(upload(at, "seed.csv", (DATA / "seed.csv").read_bytes()), "Next: review")
    assert list_imports(console).empty  # nothing is recorded before the commit
    click(click(at, "Next: commit"), "Commit now")
    assert list_imports(console).iloc[0].created_by == "dana@sales"


def test_history_undoes_an_import_after_confirmation(console):
    result = import_file(console, csv_bytes(person(1), person(2)), "undo-me.csv", "csv")
    at = page("history")
    at.selectbox[3].set_value(result.import_id).run()
    open_tab(at, result.import_id, "Undo")
    undo = [b for b in at.button if b.label == "Undo this import"][0]
    assert undo.disabled
    at.checkbox[0].check().run()
    [b for b in at.button if b.label == "Undo this import"][0].click().run()
    no_exceptions(at)
    assert "2 contacts deleted" in at.success[0].value
    assert count(console, "contacts") == 0
    # Issue 10, point 3: the screen tells the truth at once, and there is no second undo to click.
    assert shown(at.subheader[0].value).endswith("— reverted")
    assert not [b for b in at.button if b.label == "Undo this import"]
    # Issue 23: the box that picked it keeps it, and says nothing that an undo makes stale
    assert at.selectbox[3].value == result.import_id and "completed" not in at.selectbox[3].options[0]


def test_a_ragged_row_is_one_error_and_the_rest_imports(console):
    data = (b"full_name,email,linkedin_profile\n"
            b"Ann Lee,ann@x.io,https://linkedin.com/in/ann\n"
            b"Bob Ray,bob@x.io,https://linkedin.com/in/bob,surplus,cells\n"
            b"Cleo Park,cleo@x.io,https://linkedin.com/in/cleo\n")
    at = click(upload(start_wizard(), "ragged.csv", data), "Next: review")
    assert metrics(at)["Invalid"] == "1" and metrics(at)["Will insert"] == "2"
    assert at.dataframe[0].value["row"].tolist() == [3]


def test_the_detected_reading_is_shown_and_can_be_overridden(console):
    data = "Notes:\nExported from LinkedIn\n\nName;Email;URL\nJosé Müller;jose@x.io;https://linkedin.com/in/jose\n"
    at = upload(start_wizard(), "connections.csv", data.encode("cp1252"))
    summary = shown(at.caption[0].value)
    assert "encoding cp1252" in summary and "delimiter ';'" in summary and "header on row 4" in summary
    encoding = next(s for s in at.selectbox if s.label == "Encoding")
    encoding.set_value("latin-1").run()
    click(at, "Read the file again")
    no_exceptions(at)
    assert "encoding latin-1" in shown(at.caption[0].value)


def test_a_confirmed_mapping_is_offered_first_next_time(console):
    data = b"Who,Mail,Profile\nAnn,ann@x.io,https://linkedin.com/in/ann\n"
    at = upload(start_wizard(), "odd.csv", data)
    at.multiselect[0].set_value(["Who"]).run()
    boxes = [s for s in at.selectbox if s.options and s.options[0] == "— not mapped —"]
    boxes[0].set_value("Mail").run()
    boxes = [s for s in at.selectbox if s.options and s.options[0] == "— not mapped —"]
    boxes[1].set_value("Profile").run()
    click(at, "Next: review")
    again = upload(start_wizard(), "odd-2.csv", data)
    assert "mapped the way you confirmed last time" in again.info[0].value
    assert again.multiselect[0].value == ["Who"]


def test_an_abandoned_import_is_shown_failed_and_can_be_retried_with_its_file(console):
    import sqlalchemy as sa
    from core.storage.records import create_import
    from core.storage.history import get_import
    stale = create_import(console, "csv", "[seed](x).csv")
    with console.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET created_at = now() - interval '2 hours' WHERE id = :i"), {"i": stale})
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()  # with navigation: the retry switches page
    at.switch_page("pages/history.py").run()
    assert at.dataframe[0].value["status"].tolist() == ["failed"]
    at.selectbox[3].set_value(stale).run()
    assert "abandoned" in at.error[0].value
    uploader = at.get("file_uploader")[0]
    assert uploader.proto.label == "Upload \\[seed\\]\\(x\\)\\.csv again to retry this import"  # escaped
    uploader.set_value(("seed.csv", (DATA / "seed.csv").read_bytes(), "text/csv"))
    next(b for b in at.button if b.label == "Retry the import").click().run()
    no_exceptions(at)
    # The retry goes through the wizard's mapping and review, then commits into the same import.
    assert "Retrying a failed import" in at.info[0].value and "Map the columns of seed.csv" in shown(at.subheader[0].value)
    at.switch_page("pages/new_import.py")  # AppTest reruns the page it last chose, not the script's
    at = click(at, "Next: review")
    assert metrics(at)["Will insert"] == "2"
    at = click(click(at, "Next: commit"), "Commit now")
    no_exceptions(at)
    assert metrics(at)["Inserted"] == "2"
    assert get_import(console, stale)["status"] == "completed"
    assert list_imports(console)["id"].tolist() == [stale]


def test_going_back_and_uploading_another_file_makes_one_import_record(console):
    at = upload(start_wizard(), "first.csv", csv_bytes(person(1)))
    at = click(at, "Back")
    at = upload(at, "second.csv", csv_bytes(person(2)))
    assert list_imports(console).empty
    click(click(click(at, "Next: review"), "Next: commit"), "Commit now")
    assert list_imports(console)["file_name"].tolist() == ["second.csv"]


def test_the_draft_of_a_closed_session_is_released_after_the_reconnect_window():
    from core import importing

    registry = importing.DraftRegistry(release_after=150.0)
    drafts = {sid: importing.open_file(None, csv_bytes(person(1)), "a.csv") for sid in ("open-tab", "closed-tab")}
    for session_id, draft in drafts.items():
        registry.hold(session_id, draft)
    spooled = drafts["closed-tab"].upload.path
    active = {"open-tab"}.__contains__  # what the console asks Streamlit's runtime
    assert registry.release_gone(active, now=1000.0) == 0  # gone from now on
    assert registry.release_gone(active, now=1149.0) == 0
    assert registry.release_gone(active, now=1150.0) == 1
    assert not spooled.exists() and drafts["closed-tab"].file.frame.empty
    assert registry.sessions() == ["open-tab"] and not drafts["open-tab"].file.frame.empty


def test_user_data_is_never_rendered_as_markdown(console):
    """Issue 9, point 7: a file name like this became an image the browser fetched."""
    name = "![x](https://attacker.example/p.png) [click](javascript:alert(1)).csv"
    at = upload(start_wizard(source="csv"), name, csv_bytes(person(1, company=":red[Big] $x$")))
    title = at.subheader[0].value
    assert "\\!\\[x\\]\\(https\u2060\\://attacker\\.example/p\\.png\\)" in title and "](" not in title
    company = next(c.value for c in at.caption if "Big" in c.value)
    assert company == "\\:red\\[Big\\] \\$x\\$"
    at = upload(start_wizard(), "[a](b).csv", b"\x89PNG\r\n\x1a\n\x00")
    assert at.error[0].value.startswith("\\[a\\]\\(b\\)\\.csv\\: this is a binary file")


def test_same_named_columns_that_disagree_are_shown_with_samples_until_one_is_picked(console):
    # Issue 9, point 14: picking one of two "Email" columns silently dropped the other's values.
    data = (DATA / "corpus" / "duplicate_headers.csv").read_bytes()
    at = upload(start_wizard(), "dup.csv", data)
    warning = shown(at.warning[0].value)
    assert "2 columns are named 'Email' (columns 2 and 3)" in warning
    assert "ivy.chen@example.com" in warning and "ivy@home.example" in warning
    assert [b for b in at.button if b.label == "Next: review"][0].disabled
    assert not at.error  # the email field is not "missing": it waits for a choice
    boxes = [s for s in at.selectbox if s.options and s.options[0] == "— not mapped —"]
    boxes[0].set_value("Email (2)").run()
    assert not at.warning
    at = click(at, "Next: review")
    assert metrics(at)["Will insert"] == "1" and metrics(at)["Invalid"] == "1"  # Omar has no second email


def test_a_column_suggested_from_its_values_says_why(console):
    at = upload(start_wizard(), "google.csv", (DATA / "corpus" / "google_contacts_website.csv").read_bytes())
    captions = [shown(c.value) for c in at.caption]
    assert any("Suggested from its values: 2 of 2 sampled look like LinkedIn profile URLs" in c for c in captions)
    assert not [b for b in at.button if b.label == "Next: review"][0].disabled


def test_rows_that_may_be_the_same_person_can_be_skipped_in_the_review(console):
    data = csv_bytes(person(1, linkedin_profile="https://linkedin.com/in/ann"),
                     person(2, linkedin_profile="https://www.linkedin.com/in/ANN/"), person(3))
    at = click(upload(start_wizard(), "same.csv", data), "Next: review")
    assert any("1 row may be the same person as another contact" in e.label for e in at.expander)
    at = click(at, "Skip 1 row")
    assert metrics(at)["Will insert"] == "2"
    assert any("1 row skipped as possibly the same person" in c.value for c in at.caption)
    at = click(at, "Import the skipped rows after all")
    assert metrics(at)["Will insert"] == "3"


def test_api_keys_are_made_shown_once_and_revoked_from_the_console(console):
    at = page("api_keys")
    at.text_input[0].set_value("HubSpot sync")  # a form's values go with its submit button
    at = click(at, "Create key")
    key = at.code[0].value
    assert key.startswith("cic_") and key_actor(console, key).name == "HubSpot sync"
    assert "not shown again" in at.success[0].value
    at = page("api_keys")  # a new visit: the key is not shown any more
    assert not at.code and at.dataframe[0].value["state"].tolist() == ["active"]
    assert at.dataframe[0].value["last used"].str.endswith(" UTC").all()  # key_actor above used it
    at = click(at, "Revoke")  # not confirmed: nothing happens but a word on why
    assert key_actor(console, key) is not None and "Tick the box" in at.warning[0].value
    at.checkbox[0].check()
    at = click(at, "Revoke")
    assert key_actor(console, key) is None
    at.run()  # the message stays, rerun after rerun, until dismissed
    assert "HubSpot sync is revoked" in shown(at.success[0].value)
    assert not click(at, "Dismiss").success
    assert page("api_keys").dataframe[0].value["state"].tolist() == ["revoked"]
    from core.access.keys import create_key
    create_key(console, "Unused", ADMIN, "importer")
    listed = page("api_keys").dataframe[0].value.set_index("name")
    assert listed.loc["Unused", "last used"] == "never used"


def test_a_draft_is_listed_with_when_it_was_started_and_its_rows_and_can_be_discarded(console):
    at = upload(start_wizard(), "people.csv", csv_bytes(person(1), person(2)))
    from core.importing import drafts
    drafts.settle(at.session_state["import_wizard"].token)
    other = page("new_import")
    assert other.expander[0].label.startswith("Unfinished imports (1)")
    listed = other.dataframe[0].value
    assert listed[["file_name", "rows"]].values.tolist() == [["people.csv", 2]] and listed["created_at"].notna().all()
    from core.access import AccessRefused, Actor
    from core.importing import Service
    token = at.session_state["import_wizard"].token
    with pytest.raises(AccessRefused):  # another importer's draft
        Service(console).discard_draft(token, Actor("ivy@example.com", "importer", "console"))
    Service(console).discard_draft(token, Actor("kim", "admin", "console"))
    assert count(console, "drafts") == 0


def test_a_commit_runs_in_the_background_outlives_its_tab_and_shows_progress_everywhere(console):
    # Issue 10, point 6: the commit does not run in the page's script: while it runs the buttons
    # that would start another are disabled, its progress is shown in the wizard and in History
    # (another tab), and closing the wizard's tab neither stops nor fails it.
    at = click(upload(start_wizard(), "background.csv", csv_bytes(person(1), person(2))), "Next: review")
    at = click(at, "Next: commit 2 contacts")
    with holding(console, person(1)["email"]) as release:  # another writer holds a contact
        at = [b for b in at.button if b.label == "Commit now"][0].click().run()
        [job] = commit_jobs.running_jobs()
        deadline = time.monotonic() + TIMEOUT
        while job.stage != "upserting" and time.monotonic() < deadline:  # staged, waiting for the contact
            time.sleep(0.05)
        at.run()
        no_exceptions(at)
        assert all(b.disabled for b in at.button if b.label in ("Commit now", "Back"))
        assert "Inserting, updating and linking contacts: 0 of 2" in at.get("progress")[-1].proto.text
        history = page("history")
        history.selectbox[3].set_value(job.import_id).run()
        assert shown(history.subheader[0].value).endswith("— processing")
        assert ("Committing now. Inserting, updating and linking contacts: 0 of 2"
                in history.get("progress")[0].proto.text)
        del at  # the tab is closed
        release()
    assert job.finished.wait(TIMEOUT) and job.error is None
    assert get_import(console, job.import_id)["status"] == "completed" and count(console, "contacts") == 2
    assert count(console, "import_progress") == 0


def test_a_commit_after_other_imports_changed_the_stored_contacts_shows_the_new_review_first(console):
    # Issue 10, point 7: tab A reviewed "insert 2"; another import stored one of them since.
    at = click(upload(start_wizard(), "tab-a.csv", csv_bytes(person(1), person(2))), "Next: review")
    assert metrics(at)["Will insert"] == "2"
    at = click(at, "Next: commit 2 contacts")
    import_file(console, csv_bytes(person(2, company="Tab B")), "tab-b.csv", "csv")
    at = [b for b in at.button if b.label == "Commit now"][0].click().run()
    no_exceptions(at)
    assert commit_jobs.running_jobs() == [] and count(console, "imports") == 1  # nothing written
    assert "Review before anything is written" in at.subheader[0].value
    assert ("Your review said: insert 2, update 0, unchanged 0; it now says: insert 1, update 0, unchanged 1"
            in at.warning[0].value)
    assert (metrics(at)["Will insert"], metrics(at)["Unchanged"]) == ("1", "1")
    at = click(click(at, "Next: commit 2 contacts"), "Commit now")
    assert (metrics(at)["Inserted"], metrics(at)["Unchanged"]) == ("1", "1") and not at.warning


def test_a_commit_goes_ahead_when_other_imports_did_not_change_what_the_review_said(console):
    at = click(upload(start_wizard(), "tab-a.csv", csv_bytes(person(1), person(2))), "Next: review")
    at = click(at, "Next: commit 2 contacts")
    import_file(console, csv_bytes(person(3)), "unrelated.csv", "csv")
    at = click(at, "Commit now")
    assert metrics(at)["Inserted"] == "2" and not at.warning


def test_screens_use_plain_names_and_another_import_keeps_the_source_and_campaign(console):
    # Issue 10, point 9: field names as people say them, no UUID on the done screen, "New
    # campaign" (not "New attach to a campaign"), and "Start another import" keeps the choices.
    at = upload(start_wizard(source="Trade show", campaign="Expo"), "people.csv", csv_bytes(person(1)))
    names = [m.value for m in at.markdown if m.value.startswith("**")]
    assert names[:3] == ["**Full name** :red[required]", "**Email** :red[required]",
                         "**LinkedIn profile** :red[required]"]
    at = click(click(click(at, "Next: review"), "Next: commit 1 contact"), "Commit now")
    assert shown(at.success[0].value) == "The import of people.csv completed."
    at = click(at, "Start another import")
    assert shown(at.caption[0].value) == "Source: Trade show · campaign: Expo"
    at = upload(at, "more.csv", csv_bytes(person(2)))
    at = click(click(click(at, "Next: review"), "Next: commit 1 contact"), "Commit now")
    assert "Expo" in at.info[0].value and list_imports(console)["campaign"].tolist() == ["Expo", "Expo"]


def test_the_done_screen_offers_a_new_campaign_by_that_name(console):
    at = upload(start_wizard(), "people.csv", csv_bytes(person(1)))
    at = click(click(click(at, "Next: review"), "Next: commit 1 contact"), "Commit now")
    at.selectbox[0].set_value("+ New campaign…").run()
    assert at.text_input[0].label == "New campaign"


def test_campaigns_say_when_a_name_is_reused_and_list_their_contacts(console):
    result = import_file(console, csv_bytes(person(1), person(2, full_name="=cmd")), "c.csv", "csv")
    at = page("campaigns")
    at.text_input[0].set_value("Q4 Outreach")
    at.button[0].click().run()
    assert shown(at.success[0].value) == "Campaign Q4 Outreach created."
    at.text_input[0].set_value("q4 outreach")
    at.button[0].click().run()
    assert shown(at.info[0].value) == "A campaign named Q4 Outreach already exists; nothing new was created."
    from core.importing import attach_import
    assert attach_import(console, result.import_id, "Q4 OUTREACH", ADMIN).name == "Q4 Outreach"
    at = page("campaigns")
    contacts = at.dataframe[-1].value
    assert contacts["email"].tolist() == ["person1@example.com", "person2@example.com"]
    from core.storage.history import campaign_contacts_csv
    csv = campaign_contacts_csv(console, create_campaign(console, "Q4 Outreach")).decode("utf-8-sig")
    assert "'=cmd" in csv and "person1@example.com" in csv


def test_the_review_offers_safe_fixes_that_a_tick_makes_and_an_untick_undoes(console):
    data = (b"Name,Email,LinkedIn\n"
            b"Ann Lee,mailto:ann@x.io,https://www.linkedin.com/in/ann\n"
            b"Bo Ray,bo@x.io,linkedin.com/in/bo/\n")
    at = click(upload(start_wizard(), "expo.csv", data), "Next: review")
    assert metrics(at)["Invalid"] == "2"
    boxes = {shown(box.label): box for box in at.checkbox if box.key and box.key.startswith("fix_")}
    assert set(boxes) == {"mailto: taken off emails: 1 row", "https:// added to LinkedIn URLs without it: 1 row",
                          "Trailing slashes taken off LinkedIn URLs: 1 row"}
    assert any(shown(c.value) == "row 2: mailto:ann@x.io → ann@x.io" for c in at.caption)
    for box in boxes.values():
        box.check()
    at.run()
    no_exceptions(at)
    assert (metrics(at)["Invalid"], metrics(at)["Will insert"]) == ("0", "2")
    next(box for box in at.checkbox if box.key and box.key.startswith("fix_mailto")).uncheck().run()
    assert metrics(at)["Invalid"] == "1"  # unticked: undone
    next(box for box in at.checkbox if box.key and box.key.startswith("fix_mailto")).check().run()
    at = click(click(at, "Next: commit"), "Commit now")
    no_exceptions(at)
    stored = {row.email: row.linkedin_profile for row in
              console.connect().execute(sa.text("SELECT email, linkedin_profile FROM contacts"))}
    assert stored == {"ann@x.io": "https://www.linkedin.com/in/ann", "bo@x.io": "https://linkedin.com/in/bo"}
    record = list_imports(console).iloc[0]
    history = page("history")
    history.selectbox(key="history_selected").set_value(record["id"]).run()
    assert any("Fixes made: mailto: taken off emails (1 row)" in shown(c.value) for c in history.caption)


def test_history_shows_an_error_file_imported_again_with_its_import(console):
    from core.storage.history import import_error_csv
    first = import_file(console, csv_bytes(person(1), person(2, email="")), "expo.csv", "csv")
    name, data = import_error_csv(console, first.import_id)
    again = import_file(console, data.replace(b",,", b",person2@example.com,", 1), name, "csv")
    history = page("history")
    table = next(d.value for d in history.dataframe if "follows_file" in d.value.columns)
    assert table["follows_file"].fillna("").tolist() == ["expo.csv", ""]
    history.selectbox(key="history_selected").set_value(first.import_id).run()
    assert any("Its error file was fixed and imported again" in shown(c.value) and name in shown(c.value)
               for c in history.caption)
    history.selectbox(key="history_selected").set_value(again.import_id).run()
    assert any("The fixed rows of expo.csv" in shown(c.value) for c in history.caption)


def test_an_admin_erases_a_person_after_confirming_and_exports_their_data(console):
    import_file(console, csv_bytes(person(1), person(2)), "people.csv", "csv")
    at = page("personal_data")
    no_exceptions(at)
    at.text_input(key="export_email").set_value(person(1)["email"]).run()
    assert any("Contact: yes · linked by 1 import" in shown(c.value) for c in at.caption)
    at.text_input[0].set_value(person(1)["email"])
    at.button[0].click().run()  # not confirmed: nothing is erased
    assert any("Tick the box" in w.value for w in at.warning)
    assert count(console, "contacts") == 2
    at.text_input[0].set_value(person(1)["email"])
    at.checkbox[0].check()
    at.button[0].click().run()
    no_exceptions(at)
    assert any("is erased: 1 contact, 1 import link" in shown(s.value) for s in at.success)
    assert count(console, "contacts") == 1 and count(console, "suppressions") == 1


def test_history_says_when_the_retention_sweep_deleted_an_import_s_values(console):
    from core.storage.retention import sweep
    from tests.test_personal_data import _age
    record = import_file(console, csv_bytes(person(1), person(2, linkedin_profile="bad")), "old.csv", "csv")
    _age(console, 100)
    sweep(console)
    history = page("history")
    history.selectbox(key="history_selected").set_value(record.import_id).run()
    said = " ".join(shown(c.value) for c in history.caption)
    assert "The values of its rejected rows were deleted on" in said
    assert "The values it replaced (what its undo gives back) were deleted on" in said


def test_history_s_errors_speak_the_wizard_s_words(console):
    record = import_file(console, csv_bytes(person(1), person(2, email="")), "words.csv", "csv")
    history = page("history")
    history.selectbox(key="history_selected").set_value(record.import_id).run()
    errors = next(d.value for d in history.dataframe if "reason" in d.value.columns)
    assert errors[["column", "value"]].values.tolist() == [["Email", ""]]


def test_a_re_import_leads_with_what_changes_and_the_done_screen_offers_the_error_file(console):
    import_file(console, csv_bytes(person(1, company="Old"), person(2)), "first.csv", "csv")
    at = click(upload(start_wizard(), "second.csv", csv_bytes(person(1, company="New"), person(3, email="bad"))),
               "Next: review")
    assert at.expander[0].label.startswith("1 existing contact will be updated — what changes")
    assert at.expander[0].proto.expanded
    at = click(click(at, "Next: commit"), "Commit now")
    no_exceptions(at)
    assert any(b.label == "Download the 1 row to fix (CSV)" for b in at.get("download_button"))


def test_a_large_download_is_built_with_its_progress_then_offered(console, monkeypatch):
    # Issue 23: a large download takes a minute to build, and Streamlit shows nothing while a
    # clicked download builds: the page builds it on a first click, its progress shown, then offers it.
    import pages.common
    monkeypatch.setattr(pages.common, "LARGE_DOWNLOAD", 3)
    result = import_file(console, csv_bytes(*(person(n) for n in range(5))), "large.csv", "csv")
    at = page("history")
    at.selectbox[3].set_value(result.import_id).run()
    open_tab(at, result.import_id, "Contacts")
    assert not [d for d in at.get("download_button") if "contacts of this import" in d.label]
    at = click(at, "Prepare: download all contacts of this import")
    no_exceptions(at)
    assert [d for d in at.get("download_button") if d.label == "Download all contacts of this import (CSV)"]
    key, spool = at.session_state[pages.common.PREPARED]
    lines = Path(spool.name).read_bytes().decode("utf-8-sig").splitlines()
    assert len(lines) == 6 and lines[0].startswith("row,action,full_name,email")
    at.run()  # still offered on the next rerun, not built again
    assert [d for d in at.get("download_button") if d.label == "Download all contacts of this import (CSV)"]


def test_a_wait_shows_its_stage_counts_and_its_time_so_far():
    from pages.common import _progress_shown
    stages = {"exporting": "Building the CSV: {done:,} of {total:,} contacts"}
    assert _progress_shown("Building…", stages, {}, 0.4) == (0.0, "Building… (0 s)")
    assert _progress_shown("Building…", stages, {"stage": "exporting", "done": 50_000, "total": 200_000}, 3.2) == (
        0.25, "Building the CSV: 50,000 of 200,000 contacts (3 s)")
    assert _progress_shown("Undoing…", stages, {"stage": "other", "done": 1, "total": 0}, 61) == (0.0, "Undoing… (61 s)")


def test_history_charts_imports_over_time_and_an_import_s_invalid_rows(console):
    # Issue 23: a chart above History's table, and one of the invalid rows on an import's page.
    first = import_file(console, csv_bytes(person(1), person(2, email="bad"), person(3, email="worse")), "a.csv", "csv")
    at = page("history")
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1 and "inserted" in str(charts[0].proto)
    at.selectbox[3].set_value(first.import_id).run()
    no_exceptions(at)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2 and "is not a valid email address" in str(charts[1].proto)


def test_the_invalid_rows_chart_keeps_a_dozen_bars_and_one_bar_per_reason():
    import pandas as pd

    from pages.common import CHART_GROUPS, _chart_groups
    errors = pd.DataFrame({"row": range(2, 40), "column": "email",
                           "reason": [f"duplicate email in this file: row {n} is imported instead" for n in range(38)]})
    assert _chart_groups(errors)["reason"].unique().tolist() == ["duplicate email in this file: another row is imported instead"]
    many = pd.DataFrame({"row": range(100), "column": "locale", "reason": [f"reason {n % 20}" for n in range(100)]})
    grouped = _chart_groups(many)
    assert grouped[["field", "reason"]].drop_duplicates().shape[0] == CHART_GROUPS
    assert (grouped["field"] == "other").sum() == 45 and set(grouped["field"]) == {"Language", "other"}


def test_empty_cells_show_empty_not_none(console):
    # Issue 23: a contact without a company showed "None" in History's contacts and the campaign's.
    result = import_file(console, csv_bytes(person(1)), "plain.csv", "csv")
    at = page("history")
    at.selectbox[3].set_value(result.import_id).run()
    open_tab(at, result.import_id, "Contacts")
    contacts = next(d.value for d in at.dataframe if "linkedin_profile" in d.value.columns)
    assert contacts["company"].tolist() == [""] and contacts["previous"].tolist() == [""]
    assert at.dataframe[0].value["campaign"].tolist() == [""]


def test_a_file_name_with_braces_reads_as_itself_in_a_progress_text():
    # The upload's progress names the file inside a text that str.format fills in later.
    from pages.common import _progress_shown, literal
    stages = {"reading": f"Reading {literal('Q4 {final} *list*.csv')} (2.0 MB)…"}
    _, text = _progress_shown("Reading…", stages, {"stage": "reading", "done": 0, "total": 2_000_000}, 1.2)
    assert shown(text) == "Reading Q4 {final} *list*.csv (2.0 MB)… (1 s)"


def test_history_lists_an_import_whose_file_has_no_row_count_yet(console):
    # An API import still taking batches has no file rows (NULL) beside completed ones.
    from core.importing import create_api_import
    import_file(console, csv_bytes(person(1)), "done.csv", "csv")
    create_api_import(console, "api", "open.csv", ADMIN)
    at = page("history")
    no_exceptions(at)
    assert sorted(at.dataframe[0].value["file_name"]) == ["done.csv", "open.csv"]
    assert any(option.endswith("open.csv · api · 0 rows") for option in at.selectbox[3].options)


def test_blank_empties_missing_text_whatever_its_dtype():
    import pandas as pd

    from pages.common import blank
    frame = pd.DataFrame({"company": pd.array(["Acme", None], dtype="string"), "note": [None, "x"], "row": [2, 3]})
    shown_frame = blank(frame)
    assert shown_frame["company"].tolist() == ["Acme", ""] and shown_frame["note"].tolist() == ["", "x"]
    assert shown_frame["row"].tolist() == [2, 3]
