"""The import wizard's step machine (core.importing.Wizard), without a browser: the same moves the
console's page makes, on a real database, so that every console server decides them alike."""
import pytest

from core import importing
from core.rows.fixes import invalid_rows
from tests.helpers import ADMIN, count, csv_bytes, person

FILE = csv_bytes(person(1), person(2, email="not-an-email"), person(3))


@pytest.fixture
def service(engine):
    return importing.Service(engine)


def walked_to_review(service) -> importing.Wizard:
    wizard = importing.Wizard()
    wizard.choose_origin("Expo", campaign=None)
    wizard.open_file(service, FILE, "people.csv", ADMIN)
    assert wizard.step == "map" and wizard.token and wizard.draft.import_id  # the import's id from the upload on
    wizard.confirm_mapping(service, wizard.draft.mapping)
    assert wizard.step == "review" and wizard.draft.report.invalid == 1
    return wizard


def test_the_wizard_walks_a_draft_from_its_source_to_one_import(service, engine):
    wizard = walked_to_review(service)
    wizard.save(service)
    assert wizard.to_commit(service) and wizard.step == "commit"
    assert wizard.commit_state(service).kind == "ready"
    assert wizard.commit(service) == "started"
    assert importing.job_of(wizard.draft.import_id).finished.wait(120)
    assert wizard.commit_state(service).kind == "done" and wizard.step == "done"
    assert wizard.draft.result.inserted == 2 and count(engine, "imports") == 1
    # A second "Commit now" from this wizard (a stale tab) starts nothing.
    wizard.step = "commit"
    assert wizard.commit(service) == "taken" and count(engine, "imports") == 1


def test_the_tab_whose_commit_just_landed_is_told_it_is_done_not_that_another_tab_committed(service):
    # the commit's transaction ends a moment before its thread does: held here in that moment
    import threading
    wizard = walked_to_review(service)
    assert wizard.to_commit(service)
    landed, go_on = threading.Event(), threading.Event()
    release = wizard.draft.release
    wizard.draft.release = lambda: (landed.set(), go_on.wait(60), release())
    assert wizard.commit(service) == "started"
    try:
        assert landed.wait(120)
        assert service.recorded_status(wizard.draft) == "completed"
        assert wizard.commit_state(service).kind == "running"
    finally:
        go_on.set()
    assert importing.job_of(wizard.draft.import_id).finished.wait(60)
    assert wizard.commit_state(service).kind == "done"


def test_next_commit_with_fixes_not_validated_validates_them_and_stays_on_the_review(service):
    wizard = walked_to_review(service)
    wizard.hold_edits(service, invalid_rows(wizard.draft.report).assign(email="two@x.io"))
    assert not wizard.to_commit(service)
    assert (wizard.step, wizard.fixes_applied, wizard.draft.report.invalid) == ("review", 1, 0)
    assert wizard.to_commit(service) and wizard.step == "commit" and wizard.fixes_applied == 0


def test_a_link_resumes_the_draft_at_its_step_on_any_server_and_then_says_committed(service):
    first = walked_to_review(service)
    first.hold_edits(service, invalid_rows(first.draft.report).assign(email="two@x.io"))  # saved with the draft
    other_server = importing.Wizard()
    assert other_server.to_load(first.token) == first.token
    resumed = other_server.resumed(service, first.token, ADMIN)
    assert (resumed.step, resumed.source, resumed.token) == ("review", "Expo", first.token)
    assert resumed.draft.import_id == first.draft.import_id and resumed.draft.pending is not None
    assert resumed.to_load(first.token) is None  # already this wizard's draft
    assert not resumed.to_commit(service) and resumed.to_commit(service)
    service.commit(resumed.draft)
    again = importing.Wizard().resumed(service, first.token, ADMIN)
    assert again.committed == importing.Committed(first.draft.import_id, "people.csv") and again.step == "details"


def test_a_link_to_no_kept_draft_gives_a_fresh_wizard_that_says_so(service):
    assert importing.Wizard().resumed(service, importing.new_token(), ADMIN).gone


def test_starting_over_keeps_the_source_and_forgets_the_draft(service, engine):
    wizard = walked_to_review(service)
    wizard.save(service)
    importing.drafts.settle(wizard.token)  # the first save streams the file in the background
    assert count(engine, "drafts") == 1
    fresh = wizard.started_over(service, keep=("source", "campaign"), step="upload")
    assert (fresh.step, fresh.source, fresh.draft, fresh.token) == ("upload", "Expo", None, None)
    assert count(engine, "drafts") == 0 and wizard.draft is None


def test_back_goes_one_step_back_and_unknown_steps_are_refused():
    wizard = importing.Wizard(step="commit")
    wizard.back()
    assert wizard.step == "review"
    with pytest.raises(ValueError):
        wizard.go("nowhere")


def test_every_verb_on_a_draft_waits_for_its_first_save_made_in_the_background(service, engine):
    """The first save streams the file into the database off the page's path (~2 s at 150 MB);
    resuming, committing or discarding the draft in this process waits for it."""
    wizard = walked_to_review(service)
    wizard.save(service)
    resumed = importing.Wizard().resumed(service, wizard.token, ADMIN)
    assert resumed.step == "review" and resumed.draft.report.invalid == 1
    assert not importing.list_drafts(engine, ADMIN).empty  # stored by the time it was resumed
    other = walked_to_review(service)
    other.save(service)
    other.discard(service)  # waits for the save, then deletes what it wrote
    assert count(engine, "drafts") == 1 and count(engine, "draft_files") >= 1
