"""Columns kept as extra fields (issue 22): any columns the mapping leaves out can be kept in a
contact's metadata, each under a key (by default its header in snake case: Job Title ->
job_title), merged with the JSON metadata column when there is one; a kept column wins over the
same key of that column, and the review says how many rows that touched."""
import json

import pytest

from core import importing
from core.errors import ImportConsoleError
from core.rows.mapping import extra_key
from tests.helpers import contacts
from tests.test_cli import cli

HUBSPOT = ("First Name,Last Name,Email,LinkedIn,Job Title,Phone Number,Lead Status,Extra\n"
           "Ann,Lee,ann@x.io,https://linkedin.com/in/ann,CTO,+1 617 555 0100,Open,\"{\"\"tier\"\": \"\"gold\"\", "
           "\"\"job_title\"\": \"\"old\"\"}\"\n"
           "Bob,Ray,bob@x.io,https://linkedin.com/in/bob,,+44 20 7946 0000,,\n").encode()


def test_a_header_becomes_its_key_in_snake_case():
    assert [extra_key(h) for h in ("Job Title", "Phone Number", " Lead-Status ", "E-mail (work)", "ÄRA")] == [
        "job_title", "phone_number", "lead_status", "e_mail_work", "ära"]


def test_kept_columns_join_the_json_column_and_win_over_its_same_key(engine):
    draft = importing.open_file(engine, HUBSPOT, "hubspot.csv", source="HubSpot")
    importing.confirm_mapping(engine, draft, {**draft.mapping, "metadata": ["Extra"]},
                              extras={"Job Title": "job_title", "Phone Number": "phone", "Lead Status": "lead_status"})
    report = importing.validate_draft(draft)
    assert report.invalid == 0 and report.extras_overridden == 1
    result = importing.commit(engine, draft)
    assert result.inserted == 2
    stored = contacts(engine)
    assert stored["ann@x.io"]["metadata"] == {"tier": "gold", "job_title": "CTO", "phone": "+1 617 555 0100",
                                              "lead_status": "Open"}
    assert stored["bob@x.io"]["metadata"] == {"phone": "+44 20 7946 0000"}  # empty cells add no key
    again = importing.open_file(engine, HUBSPOT.replace(b"Job Title", b"job title"), "next.csv", source="HubSpot")
    assert again.extras == {"job title": "job_title", "Phone Number": "phone", "Lead Status": "lead_status"}


def test_kept_columns_alone_need_no_json_column(engine):
    draft = importing.open_file(engine, HUBSPOT, "hubspot.csv", source="HubSpot")
    mapping = {field: columns for field, columns in draft.mapping.items() if field != "metadata"}
    importing.confirm_mapping(engine, draft, mapping, extras={"Job Title": "job_title"})
    importing.validate_draft(draft)
    importing.commit(engine, draft)
    assert contacts(engine)["ann@x.io"]["metadata"] == {"job_title": "CTO"}


def test_a_kept_column_must_be_a_column_the_mapping_leaves_out_and_keys_are_unique(engine):
    draft = importing.open_file(engine, HUBSPOT, "hubspot.csv", source="HubSpot")
    with pytest.raises(ImportConsoleError, match="no column"):
        importing.confirm_mapping(engine, draft, draft.mapping, extras={"Title": "title"})
    with pytest.raises(ImportConsoleError, match="mapped to"):
        importing.confirm_mapping(engine, draft, draft.mapping, extras={"Email": "email"})
    with pytest.raises(ImportConsoleError, match="twice"):
        importing.confirm_mapping(engine, draft, draft.mapping, extras={"Job Title": "x", "Phone Number": "x"})


def test_the_cli_keeps_columns_with_extra(engine, database_url, tmp_path):
    path = tmp_path / "hubspot.csv"
    path.write_bytes(HUBSPOT)
    checked = json.loads(cli("validate", path, "--extra", "Job Title", "--extra", "Phone Number=phone", "--json").stdout)
    assert checked["invalid"] == 0
    cli("import", path, "--source", "HubSpot", "--extra", "Job Title", "--extra", "Phone Number=phone",
        database_url=database_url)
    assert contacts(engine)["bob@x.io"]["metadata"] == {"phone": "+44 20 7946 0000"}
    wrong = cli("import", path, "--source", "HubSpot", "--extra", "Title", database_url=database_url, check=False)
    assert wrong.returncode == 2 and "no column" in wrong.stderr and "Job Title" in wrong.stderr
