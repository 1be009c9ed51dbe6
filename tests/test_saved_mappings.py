"""A mapping the user confirmed is remembered for that header signature and offered first (issue 5)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.rows.mapping import suggest_mapping
from core.storage.saved_mappings import (forget_mapping, header_signature, recall_mapping, remember_mapping,
                                 suggest_mapping_for)

HEADERS = ["Nom", "Courriel", "Profil", "Société"]
CONFIRMED = {"full_name": ["Nom"], "email": ["Courriel"], "linkedin_profile": ["Profil"],
             "company": ["Société"]}


@pytest.fixture
def saved(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE saved_mappings"))
    return engine


def test_signature_ignores_order_case_and_spaces():
    assert header_signature(["Email", " Name "]) == header_signature(["name", "EMAIL"])
    assert header_signature(["Email", "Name"]) != header_signature(["Email", "Name", "Company"])


def test_a_confirmed_mapping_is_offered_first_next_time(saved):
    assert suggest_mapping_for(saved, HEADERS) == (suggest_mapping(HEADERS), False)
    remember_mapping(saved, HEADERS, CONFIRMED, created_by="ops")
    assert suggest_mapping_for(saved, ["Société", "Profil", "Courriel", "Nom"]) == (CONFIRMED, True)
    assert recall_mapping(saved, ["nom", "courriel", "profil", "société"]) == {
        "full_name": ["nom"], "email": ["courriel"], "linkedin_profile": ["profil"], "company": ["société"]}
    assert recall_mapping(saved, HEADERS + ["Phone"]) is None


def test_confirming_again_replaces_the_mapping_and_counts_uses(saved):
    remember_mapping(saved, HEADERS, CONFIRMED)
    remember_mapping(saved, HEADERS, {**CONFIRMED, "company": []})
    assert recall_mapping(saved, HEADERS) == {k: v for k, v in CONFIRMED.items() if k != "company"}
    with saved.connect() as conn:
        assert conn.execute(sa.text("SELECT uses FROM saved_mappings")).scalar_one() == 2
    forget_mapping(saved, HEADERS)
    assert recall_mapping(saved, HEADERS) is None


def test_an_incomplete_mapping_is_not_remembered(saved):
    remember_mapping(saved, HEADERS, {"email": ["Courriel"]})
    assert recall_mapping(saved, HEADERS) is None
