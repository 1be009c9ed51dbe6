"""The import service (core.importing): its verbs, and a review that says exactly what the commit
then does."""
import gc
import json

import pytest
import sqlalchemy as sa

from core.storage.review import CHANGE_COLUMNS, _first_changes, review_commit
from core.access import Actor
from core.storage.database import is_citus
from core import importing
from core.errors import AlreadyCommitted, AmbiguousColumns, StatusChangeRefused
from core.fields import ROW
from core.storage.history import get_import, list_imports
from core.storage.records import create_import
from core.storage.staging import SMALL_STAGE, STAGE_TABLE, analyze_stage, stage_rows
from core.rows.fixes import invalid_rows
from core.rows import same_person
from tests.helpers import contacts, count, csv_bytes, holding, links, person, statements_sent
from tests.test_large_path import FIRST, SECOND



def shown(value) -> str:
    """A value as the review shows it: text as it is, JSON (metadata) as JSON, nothing as ''."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def test_the_review_shows_exactly_what_the_commit_then_does(engine):
    importing.import_file(engine, FIRST, "1-first.csv", "test")
    draft = importing.open_file(engine, SECOND, "2-second.csv", source="test")
    importing.validate_draft(draft)
    review = importing.review(engine, draft)
    assert count(engine, "imports") == 1  # the review wrote nothing, not even an import record
    result = importing.commit(engine, draft)

    written = links(engine, result.import_id)
    stored = contacts(engine)
    happened = {(l["row_number"], l["email"], field, shown(old), shown(stored[l["email"]][field]))
                for l in written if l["previous"] for field, old in l["previous"].items()}
    promised = set(review.changes.itertuples(index=False, name=None))
    assert promised == happened and len(review.changes) == len(happened) > 0
    assert review.will_insert == result.inserted
    assert review.will_update == sum(1 for l in written if l["previous"])
    assert review.unchanged == sum(1 for l in written if l["previous"] == {})
    assert (review.will_update, review.unchanged) == (result.updated, result.unchanged)
    assert review.changes_by_field == {"full_name": 1, "company": 20, "metadata": 1}


def test_the_review_counts_everything_but_returns_only_the_first_changes(engine):
    importing.import_file(engine, csv_bytes(*[person(n) for n in range(30)]), "a.csv", "test")
    draft = importing.open_file(None, csv_bytes(*[person(n, company="New", locale="fr") for n in range(30)]), "b.csv")
    importing.validate_draft(draft)
    review = review_commit(engine, draft.report, shown=5)
    assert (review.will_update, review.changes_by_field) == (30, {"company": 30, "locale": 30})
    assert review.changes["row"].tolist() == [2, 2, 3, 3, 4]
    assert review.changes["field"].tolist() == ["company", "locale"] * 2 + ["company"]


def _large_re_import(engine, changing_every: int) -> tuple[list[dict], importing.Draft]:
    """SMALL_STAGE + 1,000 contacts stored, and a validated draft of them in which every
    changing_every-th row changes its company; its rows run against their emails' byte order."""
    numbers = range(SMALL_STAGE + 1000, 0, -1)
    importing.import_file(engine, csv_bytes(*[person(n) for n in numbers]), "stored.csv", "test")
    changed = [person(n, company="New") if k % changing_every == 0 else person(n) for k, n in enumerate(numbers)]
    draft = importing.open_file(None, csv_bytes(*changed), "changed.csv")
    importing.validate_draft(draft)
    return changed, draft


@pytest.mark.parametrize("changing_every", [1, 10])
def test_a_large_review_shows_the_changes_of_its_first_rows_however_many_rows_change(engine, changing_every):
    """Where at least two thirds of a large stage change, the review reads the rows in row order
    and stops at the last change it shows; with fewer changes it compares every row. Both ways
    show the changes of the first changing rows, here with the rows out of their emails' order."""
    changed, draft = _large_re_import(engine, changing_every)
    with statements_sent(engine) as sent:
        review = review_commit(engine, draft.report, shown=7)
    first = [(2 + k, changed[k]["email"]) for k in range(0, 7 * changing_every, changing_every)]
    assert list(zip(review.changes["row"], review.changes["email"])) == first
    assert set(review.changes["field"]) == {"company"} and set(review.changes["new"]) == {"New"}
    assert review.will_update == len(range(0, len(changed), changing_every))
    in_row_order = any("INDEX ON import_stage (row_number)" in statement for statement, _ in sent)
    assert in_row_order == (changing_every == 1 and not is_citus(engine))


def test_the_first_changes_of_a_stage_that_mostly_changes_read_only_the_first_rows(engine):
    """What the row order buys: 7 changes shown of 11,000 rows that all change read a few stored
    contacts, where the hash join read them all."""
    if is_citus(engine):
        pytest.skip("Citus keeps the stage's one index: the first changes come from a hash join there")
    _, draft = _large_re_import(engine, changing_every=1)
    read = "SELECT pg_stat_get_xact_tuples_returned('contacts'::regclass)"
    with engine.connect() as conn, conn.begin() as transaction:
        staged = stage_rows(conn, draft.report, in_lock_order=False)
        analyze_stage(conn)
        before = conn.execute(sa.text(read)).scalar_one()
        changes = _first_changes(conn, 7, {"rules": "{}"}, staged, staged)
        assert conn.execute(sa.text(read)).scalar_one() - before < 100  # of 11,000 stored
        transaction.rollback()  # the stage goes with it
    assert changes["row"].tolist() == list(range(2, 9))


def test_a_review_in_which_nothing_changes_looks_for_no_change(engine):
    importing.import_file(engine, csv_bytes(person(1), person(2)), "a.csv", "test")
    draft = importing.open_file(None, csv_bytes(person(1), person(2)), "b.csv")
    importing.validate_draft(draft)
    with statements_sent(engine) as sent:
        review = review_commit(engine, draft.report)
    assert (review.unchanged, len(review.changes), list(review.changes.columns)) == (2, 0, CHANGE_COLUMNS)
    assert not any("review_import_changes" in statement for statement, _ in sent)


def test_a_dry_run_writes_nothing(engine):
    importing.import_file(engine, csv_bytes(person(1, company="Old"), person(2)), "a.csv", "test")
    before = count(engine, "imports")
    draft, review = importing.dry_run(engine, csv_bytes(person(1, company="New"), person(2), person(3),
                                                         person(4, email="bad")), "b.csv")
    assert review.as_dict() == {"would_insert": 1, "would_update": 1, "unchanged": 1, "already_there": 0,
                                "not_found": 0, "changes": {"company": 1}}
    assert (draft.report.invalid, count(engine, "imports")) == (1, before)


def test_nothing_is_recorded_until_the_commit(engine):
    draft = importing.open_file(engine, csv_bytes(person(1)), "a.csv", source="HubSpot",
                                actor=Actor("kim", "importer"))
    importing.validate_draft(draft)
    importing.review(engine, draft)
    assert count(engine, "imports") == 0
    result = importing.commit(engine, draft)
    stored = get_import(engine, result.import_id)
    assert (stored["source"], stored["created_by"], stored["file_name"]) == ("HubSpot", "kim", "a.csv")


def test_a_draft_cannot_be_committed_twice(engine):
    draft = importing.open_file(None, csv_bytes(person(1)), "a.csv", source="test")
    importing.commit(engine, draft)
    with pytest.raises(AlreadyCommitted, match="committed already"):
        importing.commit(engine, draft)
    assert count(engine, "imports") == 1


def test_a_retry_goes_through_the_same_review_into_the_same_import(engine):
    failed = create_import(engine, "test", "people.csv")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET status = 'failed', error = 'x' WHERE id = :i"), {"i": failed})
    draft = importing.open_retry(engine, failed, csv_bytes(person(1), person(2, email="bad")), "people (2).csv")
    assert draft.is_retry
    report = importing.validate_draft(draft)
    assert (report.valid_count, report.invalid) == (1, 1)
    assert importing.review(engine, draft).will_insert == 1
    result = importing.commit(engine, draft)
    assert (result.import_id, result.inserted) == (failed, 1)
    assert list_imports(engine)[["status", "file_name"]].values.tolist() == [["completed", "people (2).csv"]]


def test_a_completed_import_cannot_be_retried(engine):
    result = importing.import_file(engine, csv_bytes(person(1)), "a.csv", "test")
    with pytest.raises(StatusChangeRefused):
        importing.open_retry(engine, result.import_id, csv_bytes(person(1)), "a.csv")


def test_fixes_revalidate_and_untouched_rows_keep_their_reading_problem():
    data = (b"full_name,email,linkedin_profile\n"
            b"Ann Lee,bad-email,https://linkedin.com/in/ann\n"
            b"Bob Ray,bob@x.io,https://linkedin.com/in/bob,surplus\n")
    draft = importing.open_file(None, data, "f.csv")
    report = importing.validate_draft(draft)
    assert report.errors["row"].tolist() == [2, 3]
    grid = invalid_rows(report)
    grid.loc[grid[ROW] == 2, "email"] = "ann@x.io"
    report = importing.apply_fixes(draft, grid)
    assert report.errors["row"].tolist() == [3]  # row 3 was shown but not edited: still left out
    assert report.valid["email"].tolist() == ["ann@x.io"]
    grid = invalid_rows(report)
    report = importing.apply_fixes(draft, grid.assign(full_name="Bob Ray"))  # unchanged: no effect
    assert report.errors["row"].tolist() == [3]
    report = importing.apply_fixes(draft, grid.assign(company="Fixed"))
    assert report.errors.empty and report.valid["email"].tolist() == ["ann@x.io", "bob@x.io"]


def test_a_json_value_that_is_not_text_counts_only_in_a_column_mapped_to_a_text_field():
    """Issue 21, point 6: a number for a name is refused; a number in a column the import leaves
    out, or in one mapped to the extra fields, is nobody's business."""
    rows = [{"Name": "Ann Lee", "Email": "ann@x.io", "LinkedIn": "https://linkedin.com/in/ann", "Employees": 50},
            {"Name": 7, "Email": "bo@x.io", "LinkedIn": "https://linkedin.com/in/bo", "Employees": 9}]
    draft = importing.open_file(None, json.dumps(rows).encode(), "crm.json")
    importing.confirm_mapping(None, draft, {"full_name": ["Name"], "email": ["Email"], "linkedin_profile": ["LinkedIn"]})
    report = importing.validate_draft(draft)
    assert report.errors[["row", "column", "value"]].values.tolist() == [[2, "Name", "7"]]
    assert "not text in the JSON" in report.errors["reason"][0]
    grid = invalid_rows(report)
    fixed = importing.apply_fixes(draft, grid.assign(full_name="Bo Ray"))  # the user's fix is text
    assert fixed.errors.empty and fixed.valid["full_name"].tolist() == ["Ann Lee", "Bo Ray"]


def test_the_upload_is_held_once_in_a_temporary_file_that_goes_with_the_draft():
    draft = importing.open_file(None, csv_bytes(person(1)), "a.csv")
    spooled = draft.upload.path
    assert spooled.exists() and spooled.read_bytes() == csv_bytes(person(1))
    importing.reread(None, draft, delimiter=",")
    del draft
    gc.collect()
    assert not spooled.exists()


def test_samples_are_the_first_filled_values():
    data = csv_bytes(*[person(n, company="" if n < 3 else f"C{n}", locale="fr" if n == 390 else "")
                       for n in range(1, 400)])
    draft = importing.open_file(None, data, "a.csv")
    assert importing.samples(draft, ["company"]) == ["C3", "C4", "C5"]
    assert importing.samples(draft, ["full_name", "company"])[:2] == ["Person 1", "Person 2"]
    assert importing.samples(draft, ["locale"]) == ["fr"]  # past the first rows when they are empty
    assert importing.samples(draft, ["timezone"]) == [] and importing.samples(draft, []) == []


def test_the_merge_expressions_are_inlined_not_called_per_row(engine):
    if is_citus(engine):
        pytest.skip("Citus plans the join on its workers: the coordinator's plan does not show it")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE import_stage (LIKE contacts) ON COMMIT DROP"))
        plan = "\n".join(conn.execute(sa.text(
            "EXPLAIN VERBOSE SELECT changed_fields(c.full_name, s.full_name, "
            "c.linkedin_profile, s.linkedin_profile, c.company, s.company, c.locale, s.locale, "
            "c.timezone, s.timezone, c.metadata, s.metadata) "
            "FROM import_stage s JOIN contacts c USING (email)")).scalars())
    assert "COALESCE(s.full_name, c.full_name)" in plan
    assert not any(f"{name}(" in plan for name in ("changed_fields", "text_changes", "metadata_changes",
                                                  "merged_text", "merged_metadata"))


def test_a_slice_of_the_merge_reads_only_its_own_contacts(engine):
    """Each staged row is one probe of an email index (merge.sql, _merge_by_index): a slice of a
    large commit does not read every stored contact, as a hash join would, once per slice."""
    if is_citus(engine):
        pytest.skip("Citus plans the join on its workers: the coordinator's counters do not show it")
    importing.import_file(engine, csv_bytes(*[person(n) for n in range(1, 3001)]), "stored.csv", "test")
    import_id = create_import(engine, "test", "slice.csv")
    with engine.begin() as conn:
        conn.execute(sa.text(STAGE_TABLE))
        conn.execute(sa.text("INSERT INTO import_stage (pos, row_number, email, full_name, linkedin_profile) "
                             "SELECT n, n + 2, 'person' || (1000 + n) || '@example.com', 'New ' || n, "
                             "'https://linkedin.com/in/new' || n FROM generate_series(0, 19) n"))
        conn.execute(sa.text("ANALYZE import_stage"))
        read = "SELECT pg_stat_get_xact_tuples_returned('contacts'::regclass)"
        before = conn.execute(sa.text(read)).scalar_one()
        merged = conn.execute(sa.text("SELECT * FROM merge_import_stage(:id, 0, 20, false, NULL, 'upsert', '{}')"), {"id": import_id}).one()
        assert conn.execute(sa.text(read)).scalar_one() - before < 100  # of 3,000 stored
    assert tuple(merged) == (0, 20, 0)


def test_a_slice_whose_every_row_is_new_looks_up_no_stored_contact(engine):
    """Step 2 of merge_import_stage is skipped when step 1 inserted every row of the slice. With
    the slice's end one past the stage it cannot tell, and looks each row up by its email."""
    if is_citus(engine):
        pytest.skip("Citus counts the rows step 1 only locked too: the merge always looks there")
    importing.import_file(engine, csv_bytes(*[person(n) for n in range(1, 101)]), "stored.csv", "test")
    scans = "SELECT sum(pg_stat_get_xact_numscans(indexrelid)) FROM pg_index WHERE indrelid = 'contacts'::regclass"
    looked_up = {}
    for end in (20, 21):
        import_id = create_import(engine, "test", f"new-{end}.csv")
        with engine.begin() as conn:
            conn.execute(sa.text(STAGE_TABLE))
            conn.execute(sa.text("INSERT INTO import_stage (pos, row_number, email, full_name, linkedin_profile) "
                                 "SELECT n, n + 2, 'new' || :end || '-' || n || '@example.com', 'New ' || n, "
                                 "'https://linkedin.com/in/new' || n FROM generate_series(0, 19) n"), {"end": end})
            before = conn.execute(sa.text(scans)).scalar_one()
            merged = conn.execute(sa.text("SELECT * FROM merge_import_stage(:id, 0, :end, false, NULL, 'upsert', '{}')"),
                                  {"id": import_id, "end": end}).one()
            looked_up[end] = conn.execute(sa.text(scans)).scalar_one() - before
        assert tuple(merged) == (20, 0, 0)
    assert looked_up[21] - looked_up[20] == 20


def test_the_merge_s_join_settings_reach_the_servers_that_plan_each_shard(engine):
    """On Citus each worker plans its shards' part of a join: the merge's SET LOCAL of its join
    settings must reach them (citus.propagate_set_commands), or a slice reads whole shards."""
    importing.import_file(engine, csv_bytes(*[person(n) for n in range(1, 21)]), "stored.csv", "test")
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one() == 20  # workers joined
        conn.execute(sa.text("SELECT _merge_by_index(true)"))
        where_planned = conn.execute(sa.text("SELECT DISTINCT current_setting('enable_hashjoin') FROM contacts"))
        assert where_planned.scalars().all() == ["off"]
        conn.execute(sa.text("SELECT _merge_by_index(false)"))
        assert conn.execute(sa.text("SELECT DISTINCT current_setting('enable_hashjoin') FROM contacts")).scalars().all() == ["on"]


def test_a_failed_attach_is_a_warning_and_the_import_stays_committed(engine):
    warnings = []
    result = importing.import_file(engine, csv_bytes(person(1)), "a.csv", "test", campaign="x" * 300,
                                   warnings=warnings)
    assert result.status == "completed" and count(engine, "contacts") == 1
    assert warnings == ["The import was committed but not attached to the campaign: "
                        "A campaign name must have 1 to 255 characters."]
    assert get_import(engine, result.import_id)["campaign"] is None


def test_an_interrupted_commit_marks_the_import_failed_and_writes_nothing(engine):
    draft = importing.open_file(None, csv_bytes(person(1), person(2)), "a.csv", source="test")

    def stop(stage, done, total):
        if stage == "upserting":
            raise KeyboardInterrupt  # as Streamlit's rerun does: not an Exception
    with pytest.raises(KeyboardInterrupt):
        importing.commit(engine, draft, stop)
    stored = get_import(engine, draft.import_id)
    assert stored["status"] == "failed" and stored["error"].startswith("interrupted")
    assert count(engine, "contacts") == 0
    result = importing.commit(engine, draft)  # the same draft retries into the same import
    assert (result.import_id, result.inserted) == (draft.import_id, 2)


def test_a_stage_leaves_no_rows_and_two_open_stages_keep_their_own(engine):
    """On Citus the stage is rows of the shared import_stage_rows (sql/022_distributed_stage.sql);
    on one server a temp table, and import_stage_rows stays empty."""
    from core.storage.staging import drop_stage
    first = importing.open_file(None, csv_bytes(person(1), person(2)), "a.csv", source="test")
    second = importing.open_file(None, csv_bytes(person(3)), "b.csv", source="test")
    with engine.connect() as one, engine.connect() as other:
        with one.begin(), other.begin():
            assert stage_rows(one, importing.validate_draft(first)) == 2
            assert stage_rows(other, importing.validate_draft(second)) == 1
            staged = [sorted(conn.execute(sa.text("SELECT email FROM import_stage")).scalars())
                      for conn in (one, other)]
            drop_stage(one)
            drop_stage(other)
    assert staged == [[person(1)["email"], person(2)["email"]], [person(3)["email"]]]
    importing.review(engine, first)
    importing.commit(engine, first)
    with pytest.raises(KeyboardInterrupt):
        importing.commit(engine, second, lambda stage, *_: stage == "upserting" and _interrupt())
    assert count(engine, "import_stage_rows") == count(engine, "import_matched_rows") == 0


def _interrupt():
    raise KeyboardInterrupt


def test_a_new_mapping_drops_the_fixes_made_under_the_old_one():
    data = b"Name,Mail,Profile,Other\nAnn,bad,https://linkedin.com/in/ann,ann@x.io\n"
    draft = importing.open_file(None, data, "f.csv")
    report = importing.validate_draft(draft)
    importing.apply_fixes(draft, invalid_rows(report).assign(email="fixed@x.io"))
    assert draft.report.valid["email"].tolist() == ["fixed@x.io"]
    importing.confirm_mapping(None, draft, dict(draft.mapping))  # the same mapping keeps them
    assert importing.validate_draft(draft).valid["email"].tolist() == ["fixed@x.io"]
    draft.mapping = {**draft.mapping, "email": ["Other"]}  # as the mapping step sets it
    assert importing.validate_draft(draft).valid["email"].tolist() == ["ann@x.io"]
    assert draft.edits is None


def test_the_commit_counts_the_unchanged_contacts_apart(engine):
    importing.import_file(engine, csv_bytes(person(1), person(2)), "a.csv", "test")
    result = importing.import_file(engine, csv_bytes(person(1), person(2, company="New")), "b.csv", "test")
    assert (result.updated, result.unchanged, result.total_rows) == (1, 1, 2)
    assert get_import(engine, result.import_id)["unchanged"] == 1


DUPLICATED_EMAIL = (b"Name,Email,Email,LinkedIn URL\n"
                    b"Ivy Chen,ivy.chen@example.com,ivy@home.example,https://linkedin.com/in/ivy\n")


def test_same_named_columns_that_disagree_must_be_chosen_between(engine):
    draft = importing.open_file(None, DUPLICATED_EMAIL, "dup.csv")
    assert "email" not in draft.mapping and list(draft.ambiguous) == ["email"]
    with pytest.raises(AmbiguousColumns, match="2 columns are named 'Email'"):
        importing.validate_draft(draft)
    importing.choose_columns(draft, {"email": ["Email (2)"]})
    assert importing.validate_draft(draft).valid["email"].tolist() == ["ivy@home.example"]


def test_same_named_columns_that_agree_need_no_choice():
    data = b"Name,Email,Email,LinkedIn URL\nIvy,ivy@example.com,ivy@example.com,https://linkedin.com/in/ivy\n"
    draft = importing.open_file(None, data, "same.csv")
    assert draft.ambiguous == {} and draft.mapping["email"] == ["Email"]


def test_a_choice_confirmed_once_is_remembered_for_the_same_headers(engine):
    first = importing.open_file(engine, DUPLICATED_EMAIL, "dup.csv")
    importing.confirm_mapping(engine, first, {**first.mapping, "email": ["Email"]})
    again = importing.open_file(engine, DUPLICATED_EMAIL, "dup-2.csv")
    assert again.remembered and again.ambiguous == {} and again.mapping["email"] == ["Email"]


def test_the_same_linkedin_profile_under_another_email_is_flagged_never_merged(engine):
    # Issue 9, point 16: compared by slug, whatever the host, case or trailing slash.
    importing.import_file(engine, csv_bytes(person(1, linkedin_profile="https://linkedin.com/in/ann-lee")),
                          "stored.csv", "s")
    data = csv_bytes(person(2, linkedin_profile="https://WWW.LinkedIn.com/in/Ann-Lee/"),
                     person(3, linkedin_profile="https://www.linkedin.com/in/bo"),
                     person(4, linkedin_profile="http://de.linkedin.com/in/BO?trk=x"), person(5))
    draft = importing.open_file(engine, data, "new.csv", source="s")
    within = importing.possible_duplicates(draft)
    assert within[["row", "same_as_email", "same_as"]].values.tolist() == [
        [4, "person3@example.com", "row 3 of this file"]]
    importing.review(engine, draft)
    found = importing.possible_duplicates(draft)
    assert found[["row", "email", "same_as_email", "same_as"]].values.tolist() == [
        [2, "person2@example.com", "person1@example.com", "a stored contact"],
        [4, "person4@example.com", "person3@example.com", "row 3 of this file"]]
    report = importing.skip_rows(draft, found["row"].tolist())
    assert report.valid_count == 2 and set(report.errors["row"]) == {2, 4}
    assert report.errors["reason"].str.startswith("skipped: may be the same person as").all()
    assert importing.keep_skipped_rows(draft).valid_count == 4
    assert importing.commit(engine, draft).inserted == 4  # nothing merged: four contacts


@pytest.mark.parametrize("other_stored, citus, shipped_alias", [(0, True, "c"), (10, True, "s"), (0, False, "s")])
def test_profiles_stored_under_another_email_are_found_whichever_side_is_shipped(
        engine, monkeypatch, other_stored, citus, shipped_alias):
    # On Citus the review ships the side with fewer profiles to the other's shards
    # (_stored_same_person); both servers run either query (here each as if it were Citus or not).
    from core.storage import review as review_module
    monkeypatch.setattr(review_module, "SHIP_STAGED_BELOW", 0)
    monkeypatch.setattr(review_module, "on_citus", lambda conn: citus)
    url = "https://linkedin.com/in/{}".format
    stored = [person(1, linkedin_profile=url("ann-lee")), person(3, linkedin_profile=url("bo")),
              person(6, linkedin_profile=url("shared")), person(7, linkedin_profile=url("Shared/")),
              *[person(20 + n) for n in range(other_stored)]]
    importing.import_file(engine, csv_bytes(*stored), "stored.csv", "s")
    staged = [person(2, linkedin_profile=url("Ann-Lee")), person(3, linkedin_profile=url("bo")),
              person(8, linkedin_profile=url("shared")), person(6, linkedin_profile=url("shared")), person(9)]
    draft = importing.open_file(engine, csv_bytes(*staged), "new.csv", source="s")
    with statements_sent(engine) as sent:
        importing.review(engine, draft)
    statements = [statement for statement, _ in sent]
    found = importing.possible_duplicates(draft)
    assert found[["email", "same_as_email", "same_as"]].values.tolist() == [
        ["person2@example.com", "person1@example.com", "a stored contact"],
        ["person8@example.com", "person6@example.com", "a stored contact"],  # the first of the two
        ["person6@example.com", "person7@example.com", "a stored contact"]]  # not itself
    searches = [s for s in statements if "same_as_email" in s]
    # 4 stored profiles against 5 staged: the stored go; 14 against 5: the staged go; one server
    # does not count them
    assert len(searches) == 1 and f"OFFSET 0) {shipped_alias}" in searches[0]
    assert any(same_person.STORED_PROFILES in s for s in statements) == citus


def test_a_background_commit_keeps_its_draft_until_it_ends_and_one_runs_per_import(engine):
    # Issue 10, point 6: a closed tab's draft is released by the console's sweeper; the commit
    # running in the background must still hold its rows, and a second "Commit now" joins it.
    from core.importing import jobs as commit_jobs
    draft = importing.open_file(engine, csv_bytes(person(1), person(2)), "bg.csv", source="test")
    importing.review(engine, draft)
    with holding(engine, person(1)["email"]) as release:  # the merge waits for it
        job = commit_jobs.start_commit(engine, draft)
        assert commit_jobs.start_commit(engine, draft) is job and count(engine, "imports") == 1
        draft.release()  # what the sweeper does when the tab has been gone a while
        assert not draft.released and job.running
        release()
    assert job.finished.wait(60) and job.error is None
    assert (job.result.inserted, draft.released) == (2, True)
    assert get_import(engine, job.import_id)["status"] == "completed"


def test_a_background_commit_that_fails_says_why_and_keeps_its_draft_for_a_retry(engine, monkeypatch):
    from core.importing import jobs as commit_jobs
    draft = importing.open_file(engine, csv_bytes(person(1)), "fails.csv", source="test")
    importing.review(engine, draft)
    def broken_merge(*args):
        raise RuntimeError("the merge broke")
    monkeypatch.setattr("core.storage.commit._merge", broken_merge)
    job = commit_jobs.start_commit(engine, draft)
    assert job.finished.wait(60)
    assert job.result is None and "failed and nothing of it was saved" in job.error
    assert not draft.released and get_import(engine, job.import_id)["status"] == "failed"
    monkeypatch.undo()
    retried = commit_jobs.start_commit(engine, draft)
    assert retried.finished.wait(60) and retried.result.inserted == 1 and retried.import_id == job.import_id


def test_what_a_rerun_asks_again_is_kept_not_recomputed():
    # Issue 10, point 1: the mapping page asks for every field's samples on every rerun, and the
    # review page for every row's problems; both are computed once per file (or report).
    draft = importing.open_file(None, csv_bytes(person(1), person(2, email="bad")), "kept.csv")
    first = importing.samples(draft, ["full_name", "email"])
    assert first == ["Person 1 person1@example.com", "Person 2 bad"]
    assert importing.samples(draft, ["full_name", "email"]) is first
    importing.reread(None, draft)
    assert importing.samples(draft, ["full_name", "email"]) is not first  # a new reading, new samples
    report = importing.validate_draft(draft)
    assert report.problems_by_row is report.problems_by_row
    assert report.problems_by_row.to_dict() == {3: "Email is not a valid email address"}
