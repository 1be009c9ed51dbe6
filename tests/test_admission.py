"""Admission control (issue 20): a server reads at most SLOTS large files at once, in arrival
order, telling the others how many are ahead; small files and nested verbs never wait."""
import threading

import pytest

from core.importing.admission import WAITING, Admission


def test_large_files_take_turns_in_arrival_order_and_hear_how_many_are_ahead():
    admission = Admission(slots=1, large_bytes=100)
    first_in, release_first, waits = threading.Event(), threading.Event(), threading.Event()
    heard, order = [], []

    def first():
        with admission.admit(1_000):
            order.append("first")
            first_in.set()
            release_first.wait(30)

    def second():
        with admission.admit(1_000, lambda stage, ahead, total: (heard.append((stage, ahead)), waits.set())):
            order.append("second")

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert first_in.wait(30)
    threads.append(threading.Thread(target=second))
    threads[1].start()
    assert waits.wait(30)  # the second file says it waits, with one file ahead, before it goes
    with admission.admit(10):  # a small file does not queue
        order.append("small")
    release_first.set()
    for thread in threads:
        thread.join(30)
    assert order == ["first", "small", "second"]
    assert heard[0] == (WAITING, 1) and admission.waiting() == 0


def test_a_thread_holding_a_slot_does_not_wait_for_a_second_one_and_a_failure_frees_its_slot():
    admission = Admission(slots=1, large_bytes=100)
    with admission.admit(1_000):
        with admission.admit(1_000):  # add_contacts -> open_file -> validate_draft, one slot
            pass
    with pytest.raises(RuntimeError):
        with admission.admit(1_000):
            raise RuntimeError("unreadable")
    with admission.admit(1_000):  # freed
        pass
