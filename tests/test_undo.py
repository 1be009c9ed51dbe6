"""Undo: atomic, restores `previous`, never overwrites what a later import changed."""
import pytest

from core.errors import StatusChangeRefused, UndoFailed
from core.storage.history import get_import
from core.importing import import_file
from core.storage.undo import undo_import
from tests.helpers import ADMIN, contacts, count, csv_bytes, person, refusing



def run(engine, *rows, name="f.csv"):
    return import_file(engine, csv_bytes(*rows), name, "test")


def test_undo_deletes_inserted_contacts_and_restores_updated_fields(engine):
    run(engine, person(1, company="Acme", metadata='{"a": 1}'))
    second = run(engine, person(1, company="Beta", locale="fr", metadata='{"b": 2}'), person(2))
    result = undo_import(engine, second.import_id, ADMIN)
    assert (result.deleted, result.restored, result.conflicts.empty) == (1, 1, True)
    stored = contacts(engine)
    assert list(stored) == ["person1@example.com"]
    assert (stored["person1@example.com"]["company"], stored["person1@example.com"]["locale"],
            stored["person1@example.com"]["metadata"]) == ("Acme", None, {"a": 1})
    assert get_import(engine, second.import_id)["status"] == "reverted"


def test_undo_keeps_what_a_later_import_changed_and_reports_it(engine):
    run(engine, person(1, company="Acme", locale="en"))
    middle = run(engine, person(1, company="Beta", locale="fr"), person(2), name="middle.csv")
    run(engine, person(1, company="Gamma"), person(2, company="Later"), name="later.csv")
    result = undo_import(engine, middle.import_id, ADMIN)
    stored = contacts(engine)
    assert stored["person1@example.com"]["company"] == "Gamma"  # changed later: kept
    assert stored["person1@example.com"]["locale"] == "en"      # only middle changed it: restored
    assert "person2@example.com" in stored                      # a later import holds it: kept
    assert result.conflicts.to_dict("records") == [
        {"email": "person1@example.com", "field": "company",
         "reason": "not restored: a later import (later.csv) changed it"},
        {"email": "person2@example.com", "field": "",
         "reason": "kept: a later import (later.csv) also holds this contact"},
    ]


def test_a_reverted_later_import_no_longer_blocks_an_earlier_undo(engine):
    first = run(engine, person(1))
    later = run(engine, person(1, company="X"))
    undo_import(engine, later.import_id, ADMIN)
    undo_import(engine, first.import_id, ADMIN)
    assert count(engine, "contacts") == 0


def test_undo_twice_or_of_an_unfinished_import_is_refused(engine):
    result = run(engine, person(1))
    undo_import(engine, result.import_id, ADMIN)
    with pytest.raises(StatusChangeRefused, match="is reverted; only a completed import can be undone"):
        undo_import(engine, result.import_id, ADMIN)


def test_undo_is_atomic(engine):
    run(engine, person(1, company="Acme"))
    second = run(engine, person(1, company="Beta"), person(2))
    with refusing(engine, "contacts", "DELETE", "delete refused by test"), \
            pytest.raises(UndoFailed, match="delete refused by test"):
        undo_import(engine, second.import_id, ADMIN)
    assert contacts(engine)["person1@example.com"]["company"] == "Beta"  # the restore was rolled back
    assert count(engine, "contacts") == 2
    assert get_import(engine, second.import_id)["status"] == "completed"


def test_undo_counts_as_restored_only_contacts_it_gave_a_value_back(engine):
    run(engine, person(1, company="Acme"), person(2, company="Acme"))
    middle = run(engine, person(1, company="Beta"), person(2, company="Beta", locale="fr"), name="middle.csv")
    run(engine, person(1, company="Gamma"), person(2, company="Gamma"), name="later.csv")
    before = contacts(engine)["person1@example.com"]["updated_at"]
    result = undo_import(engine, middle.import_id, ADMIN)
    assert result.restored == 1  # person 2's locale; person 1's only change was overwritten later
    stored = contacts(engine)
    assert (stored["person1@example.com"]["updated_at"], stored["person2@example.com"]["locale"]) == (before, None)


def _updated_at(engine, email: str):
    return contacts(engine)[email]["updated_at"]


def test_an_undo_that_gives_nothing_back_reports_nothing_restored_and_touches_nothing(engine):
    # Issue 9, point 10: A, B and C each change the company; undoing B cannot restore it (C's
    # value stands), so nothing is restored and the contact is not rewritten.
    run(engine, person(1, company="A"), person(2, company="A"))
    b = run(engine, person(1, company="B"), person(2, company="B"), name="b.csv")
    run(engine, person(1, company="C"), person(2, company="C"), name="c.csv")
    before = _updated_at(engine, "person1@example.com")
    result = undo_import(engine, b.import_id, ADMIN)
    assert (result.restored, result.deleted) == (0, 0)
    assert contacts(engine)["person1@example.com"]["company"] == "C"
    assert _updated_at(engine, "person1@example.com") == before
    assert set(result.conflicts["reason"]) == {"not restored: a later import (c.csv) changed it"}


def test_undo_skips_values_written_by_imports_already_reverted(engine):
    run(engine, person(1, company="A", locale="en"))
    b = run(engine, person(1, company="B", locale="fr"), name="b.csv")
    c = run(engine, person(1, company="C"), name="c.csv")
    undo_import(engine, b.import_id, ADMIN)   # locale back to en; company stays C (c.csv changed it)
    result = undo_import(engine, c.import_id, ADMIN)
    stored = contacts(engine)["person1@example.com"]
    assert (stored["company"], stored["locale"]) == ("A", "en")  # not B: b.csv is reverted
    assert result.restored == 1


def test_a_contact_whose_inserting_import_is_reverted_goes_with_the_last_import_holding_it(engine):
    b = run(engine, person(1, company="B"), name="b.csv")
    c = run(engine, person(1, company="C"), name="c.csv")
    assert undo_import(engine, b.import_id, ADMIN).deleted == 0  # c.csv holds it
    result = undo_import(engine, c.import_id, ADMIN)
    assert (result.deleted, count(engine, "contacts")) == (1, 0)
