import pandas as pd
import pytest

from core.errors import MappingIncomplete
from core.fields import FIELDS, ROW
from core.rows.mapping import apply_mapping, describe_mapping, missing_required, suggest_mapping, suggest_from_values


def test_exact_field_names_map_to_themselves():
    assert suggest_mapping(list(FIELDS)) == {f: [f] for f in FIELDS}


@pytest.mark.parametrize("header, field", [
    ("Email Address", "email"), ("E-mail", "email"), ("EMAIL", "email"), ("Work Email", "email"),
    ("LinkedIn URL", "linkedin_profile"), ("Person Linkedin Url", "linkedin_profile"),
    ("LinkedIn Profile", "linkedin_profile"), ("Company Name", "company"), ("Organization", "company"),
    ("Full Name", "full_name"), ("Name", "full_name"), ("Time Zone", "timezone"),
    ("Language", "locale"), ("meta data", "metadata"),
])
def test_common_crm_headers_are_suggested(header, field):
    assert suggest_mapping([header])[field] == [header]


def test_first_and_last_name_combine_into_full_name():
    mapping = suggest_mapping(["First Name", "Last Name", "Email", "LinkedIn URL", "Company Name"])
    assert mapping["full_name"] == ["First Name", "Last Name"]
    assert describe_mapping(mapping)["full_name"] == "First Name + Last Name"


def test_close_misspellings_are_matched_fuzzily():
    assert suggest_mapping(["emial", "linkedin_profil"]) == {
        "email": ["emial"], "linkedin_profile": ["linkedin_profil"]}


def test_unrelated_headers_stay_unmapped():
    mapping = suggest_mapping(["Phone", "Street"])
    assert mapping == {}
    assert missing_required(mapping) == ["full_name", "email", "linkedin_profile"]


def test_a_column_is_mapped_to_one_field_only():
    mapping = suggest_mapping(["Name", "Email"])
    assert mapping == {"full_name": ["Name"], "email": ["Email"]}


def test_apply_mapping_builds_every_field_and_keeps_row_numbers():
    frame = pd.DataFrame({"First": ["Ann", ""], "Last": [" Lee ", "Solo"], "Mail": ["a@x.io", "b@x.io"],
                          "LI": ["u1", "u2"], ROW: [2, 3]})
    mapped = apply_mapping(frame, {"full_name": ["First", "Last"], "email": ["Mail"],
                                   "linkedin_profile": ["LI"]})
    assert list(mapped.columns) == [*FIELDS, ROW]
    assert mapped["full_name"].tolist() == ["Ann Lee", "Solo"]
    assert mapped["company"].tolist() == ["", ""]
    assert mapped[ROW].tolist() == [2, 3]


def test_apply_mapping_refuses_a_mapping_without_required_fields():
    frame = pd.DataFrame({"Mail": ["a@x.io"], ROW: [2]})
    with pytest.raises(MappingIncomplete, match="full_name, linkedin_profile"):
        apply_mapping(frame, {"email": ["Mail"]})


def _frame(columns: dict[str, list[str]]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame[ROW] = range(2, len(frame) + 2)
    return frame


def test_a_field_the_headers_leave_out_is_suggested_from_what_a_column_holds():
    # Issue 9, point 15: Google Contacts keeps the LinkedIn URL under "Website 1 - Value".
    frame = _frame({"Name": ["A", "B"], "E-mail 1 - Value": ["a@x.io", "b@x.io"],
                    "Website 1 - Label": ["Profile", "Profile"],
                    "Website 1 - Value": ["https://www.linkedin.com/in/a", "https://linkedin.com/in/b"],
                    "Where": ["Europe/Paris", "Asia/Tokyo"], "Lang": ["pt-BR", "en"], "Contact": ["X@Y.io", "z@y.io"]})
    found = suggest_from_values(frame, {"full_name": ["Name"]})
    assert {f: c for f, (c, _) in found.items()} == {
        "email": "E-mail 1 - Value", "linkedin_profile": "Website 1 - Value", "timezone": "Where", "locale": "Lang"}
    assert found["linkedin_profile"][1] == "suggested from its values: 2 of 2 sampled look like LinkedIn profile URLs"


def test_content_suggestions_need_most_values_to_fit_and_skip_country_codes():
    frame = _frame({"Web Page": ["https://linkedin.com/in/a", "https://example.com", "https://example.org"],
                    "Country": ["DE", "FR", "IT"]})
    assert suggest_from_values(frame, {}) == {}


def test_job_titles_and_statuses_are_not_taken_for_language_tags():
    # "CTO", "CEO", "VP" are well-formed BCP 47 tags; a HubSpot export's Job Title was suggested as the locale
    frame = _frame({"Job Title": ["CTO", "CEO", "VP"], "Lead Status": ["NEW", "OPEN", "NEW"], "Lang": ["en", "fr", "de"]})
    assert {f: c for f, (c, _) in suggest_from_values(frame, {}).items()} == {"locale": "Lang"}


def test_a_mapped_field_or_a_used_column_is_never_suggested_again():
    frame = _frame({"Email": ["a@x.io"], "Other": ["b@x.io"]})
    assert "email" not in suggest_from_values(frame, {"email": ["Email"]})
    assert suggest_from_values(frame, {"company": ["Other"]})["email"][0] == "Email"
