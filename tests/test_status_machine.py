"""One status machine (core.storage.records.TRANSITIONS), pinned for every pair of statuses."""
import itertools

import pytest
import sqlalchemy as sa

from core.errors import StatusChangeRefused
from core.storage.history import get_import
from core.importing import import_file
from core.storage.records import STATUSES, TRANSITIONS, change_status, create_import
from core.storage.undo import undo_import
from core.storage.commit import commit_import
from tests.helpers import ADMIN, count, csv_bytes, person, prepare


ALLOWED = {("processing", "completed"), ("processing", "failed"), ("failed", "completed"),
           ("failed", "failed"), ("completed", "reverted")}


def import_in(engine, status: str) -> str:
    import_id = create_import(engine, "test", "f.csv")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET status = :s WHERE id = :i"), {"s": status, "i": import_id})
    return import_id


def test_the_table_is_the_documented_machine():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED
    assert set(TRANSITIONS) == set(STATUSES)


@pytest.mark.parametrize("current, wanted", list(itertools.product(STATUSES, STATUSES)))
def test_every_change_is_allowed_or_refused_without_changing_anything(engine, current, wanted):
    import_id = import_in(engine, current)
    if (current, wanted) in ALLOWED:
        with engine.begin() as conn:
            assert change_status(conn, import_id, wanted) == current
        assert get_import(engine, import_id)["status"] == wanted
        return
    with pytest.raises(StatusChangeRefused, match=f"Import {import_id} is {current}"):
        with engine.begin() as conn:
            change_status(conn, import_id, wanted, error="must not be written")
    stored = get_import(engine, import_id)
    assert (stored["status"], stored["error"]) == (current, None)


def test_committing_a_reverted_import_is_refused_and_it_stays_reverted(engine):
    """Defect 1 of issue 8: this used to fail on import_contacts_pkey and turn the import failed."""
    data = csv_bytes(person(1), person(2))
    result = import_file(engine, data, "f.csv", "test")
    undo_import(engine, result.import_id, ADMIN)
    with pytest.raises(StatusChangeRefused, match="is reverted; it cannot be committed again"):
        commit_import(engine, result.import_id, prepare(data, "f.csv").report, actor=ADMIN)
    stored = get_import(engine, result.import_id)
    assert (stored["status"], stored["error"]) == ("reverted", None)
    assert count(engine, "contacts") == 0


def test_undoing_a_failed_or_processing_import_is_refused(engine):
    for status in ("processing", "failed"):
        import_id = import_in(engine, status)
        with pytest.raises(StatusChangeRefused, match="only a completed import can be undone"):
            undo_import(engine, import_id, ADMIN)
        assert get_import(engine, import_id)["status"] == status
