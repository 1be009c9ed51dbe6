"""Safe one-click fixes (issue 22): each kind the rows can take is offered with its count and two
examples, made only when accepted (the console, --apply-fixes, ?apply_fixes=true), undone when
unticked, recorded on the import. And an error file uploaded again is recorded as a follow-up of
its import. Runs on both servers."""
import json

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from core import importing
from core.errors import ImportConsoleError
from core.fields import FIELDS, ROW
from core.rows.quick_fixes import KINDS
from core.rows.validation import VALUE_CHECKS, normalize_value, schema_rules, validate
from core.storage.history import get_import, import_error_csv
from tests.helpers import ADMIN, contacts, csv_bytes, person
from tests.test_cli import cli

BROKEN = [  # (email, linkedin_profile) as exports and hand-typed sheets have them -> what is stored
    (("mailto:Ann@X.io", "linkedin.com/in/ann"), ("ann@x.io", "https://linkedin.com/in/ann")),
    (('"bo@x.io"', "www.linkedin.com/in/bo/"), ("bo@x.io", "https://www.linkedin.com/in/bo")),
    (("Cy Lee <cy@x.io>", "https://de.linkedin.com/in/cy/?trk=abc"), ("cy@x.io", "https://www.linkedin.com/in/cy")),
    (("ｄｉ＠ｘ．ｉｏ", "https://www.linkedin.com/in/di"), ("di@x.io", "https://www.linkedin.com/in/di")),
    (("  < ed@x.io >  ", "http://linkedin.com/in/ed#about"), ("ed@x.io", "http://linkedin.com/in/ed")),
]
NOT_FIXABLE = ("mailto:nobody", "https://linkedin.com/company/acme")


def rows_of(*pairs, numbered_from: int = 1) -> pd.DataFrame:
    frame = pd.DataFrame([{**{f: "" for f in FIELDS}, "full_name": f"P{i}", "email": email, "linkedin_profile": url}
                          for i, (email, url) in enumerate(pairs)])
    frame[ROW] = range(numbered_from, numbered_from + len(frame))
    return frame


def file_of(*pairs) -> bytes:
    return csv_bytes(*[{"full_name": f"P{i}", "email": email, "linkedin_profile": url}
                       for i, (email, url) in enumerate(pairs)])


def test_each_kind_is_offered_with_its_count_and_examples_and_nothing_is_fixed_unasked():
    report = validate(rows_of(*(given for given, _ in BROKEN), NOT_FIXABLE))
    offered = {offer.kind: offer for offer in report.fixes}
    assert list(offered) == list(KINDS)  # every kind, in one order
    assert (offered["mailto"].rows, offered["email_wrapping"].rows, offered["linkedin_scheme"].rows,
            offered["linkedin_slash"].rows, offered["linkedin_query"].rows) == (1, 3, 2, 2, 2)
    assert offered["email_wrapping"].examples == [
        {"row": 2, "field": "email", "before": '"bo@x.io"', "after": "bo@x.io"},
        {"row": 3, "field": "email", "before": "cy lee <cy@x.io>", "after": "cy@x.io"}]
    assert offered["full_width"].examples[0]["after"] == "di@x.io"
    assert not any(offer.applied for offer in report.fixes)
    assert report.valid_count == 0 and report.invalid == 6


def test_accepted_fixes_are_made_and_only_values_that_then_pass_change():
    report = validate(rows_of(*(given for given, _ in BROKEN), NOT_FIXABLE), fixes=frozenset(KINDS))
    assert report.valid[["email", "linkedin_profile"]].values.tolist() == [list(after) for _, after in BROKEN]
    assert report.errors["value"].tolist() == list(NOT_FIXABLE)  # left as they were, with their reasons
    assert report.fixes_applied == {offer.kind: offer.rows for offer in report.fixes}


def test_one_kind_alone_fixes_only_what_it_fixes_by_itself():
    report = validate(rows_of(*(given for given, _ in BROKEN)), fixes=frozenset({"linkedin_slash"}))
    assert report.fixes_applied == {"linkedin_slash": 1}  # row 2's needs https:// too; row 3's passes without
    assert report.valid_count == 0
    assert report.normalized.loc[2, "linkedin_profile"] == "https://de.linkedin.com/in/cy?trk=abc"
    assert report.normalized.loc[1, "linkedin_profile"] == "www.linkedin.com/in/bo/"


def _passes(field: str, value: str) -> bool:
    return all(VALUE_CHECKS[check](value) for column, check in schema_rules() if column == field)


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
EMAILISH = st.builds(lambda a, b, c: a + b + c, st.sampled_from(["", "mailto:", '"', "<", "Ann <", "ｍ", " "]),
                     st.sampled_from(["ann@x.io", "ａｎｎ＠ｘ．ｉｏ", "ann@bücher.de", "a@b", "@x.io", ""]),
                     st.sampled_from(["", '"', ">", " >", "'", "”"]))
URLISH = st.builds(lambda a, b, c: a + b + c,
                   st.sampled_from(["", "https://", "http://", "HTTPS://"]),
                   st.sampled_from(["linkedin.com/in/ann", "www.linkedin.com/in/ann", "fr.linkedin.com/in/ann",
                                    "linkedin.com/company/x", "lınkedın.com/in/ann", "ｌｉｎｋｅｄｉｎ.ｃｏｍ/in/a"]),
                   st.sampled_from(["", "/", "//", "?trk=x", "/?a=1#b", "#x"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(EMAILISH, TEXT), st.one_of(URLISH, TEXT)), min_size=1, max_size=8))
def test_a_fix_only_ever_turns_a_value_into_one_that_passes_and_fixing_twice_changes_nothing(pairs):
    frame = rows_of(*pairs)
    once = validate(frame, fixes=frozenset(KINDS))
    fixed = once.normalized
    plain = validate(frame).normalized
    for field in ("email", "linkedin_profile"):
        for before, after in zip(plain[field], fixed[field]):
            assert after == before or _passes(field, after), (field, before, after)
    again = validate(fixed[[*FIELDS, ROW]], fixes=frozenset(KINDS))
    assert not again.fixes_applied  # a fixed value is in its usual form: no fix changes it again
    assert again.normalized[["email", "linkedin_profile"]].equals(fixed[["email", "linkedin_profile"]])


def test_a_value_that_already_passes_keeps_its_meaning():
    """Fixes of valid values only tidy a LinkedIn URL: the profile (its slug) stays the same."""
    for value in ("https://www.linkedin.com/in/ann-lee-7", "https://linkedin.com/in/ann"):
        assert normalize_value("linkedin_profile", value) == value
        assert validate(rows_of(("a@x.io", value))).fixes == []


def test_the_console_s_choice_is_kept_with_the_draft_undone_by_unticking_and_recorded_on_the_import(engine):
    service = importing.Service(engine)
    wizard = importing.Wizard()
    wizard.choose_origin("Expo", campaign=None)
    wizard.open_file(service, file_of(*(given for given, _ in BROKEN[:2])), "expo.csv", ADMIN)
    wizard.confirm_mapping(service, wizard.draft.mapping)
    wizard.choose_fixes(service, {"mailto", "email_wrapping", "linkedin_scheme", "linkedin_slash"})
    assert wizard.draft.report.valid_count == 2 and wizard.draft.review.will_insert == 2
    wizard.choose_fixes(service, {"mailto", "linkedin_scheme"})  # unticked: undone
    assert wizard.draft.report.valid_count == 1
    wizard.choose_fixes(service, {"mailto", "email_wrapping", "linkedin_scheme", "linkedin_slash"})
    wizard.save(service)
    importing.drafts.settle(wizard.token)
    resumed = importing.Wizard().resumed(service, wizard.token, ADMIN)
    assert resumed.draft.fixes == {"mailto", "email_wrapping", "linkedin_scheme", "linkedin_slash"}
    result = service.commit(resumed.draft)
    assert result.fixes == {"mailto": 1, "email_wrapping": 1, "linkedin_scheme": 2, "linkedin_slash": 1}
    assert get_import(engine, result.import_id)["fixes"] == result.fixes
    assert {email: c["linkedin_profile"] for email, c in contacts(engine).items()} == {
        "ann@x.io": "https://linkedin.com/in/ann", "bo@x.io": "https://www.linkedin.com/in/bo"}


def test_an_unknown_kind_is_refused_with_the_kinds_named(engine):
    with pytest.raises(ImportConsoleError, match="the fixes are full_width, mailto"):
        importing.import_file(engine, file_of(BROKEN[0][0]), "f.csv", "CRM", fixes=["spelling"])


def test_the_cli_lists_the_fixes_and_makes_them_with_apply_fixes(engine, database_url, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(file_of(*(given for given, _ in BROKEN)))
    listed = json.loads(cli("validate", path, "--json").stdout)
    assert {fix["kind"]: fix["rows"] for fix in listed["fixes"]}["email_wrapping"] == 3
    assert listed["fixes"][0]["example"] and not listed["fixes"][0]["applied"]
    assert "mailto: taken off emails, 1 row, not made" in cli("validate", path).stdout
    only = json.loads(cli("validate", path, "--apply-fixes", "mailto,linkedin_scheme", "--json").stdout)
    assert only["valid"] == 1
    made = json.loads(cli("import", path, "--source", "Expo", "--apply-fixes", "--json",
                          database_url=database_url).stdout)
    assert made["inserted"] == 5 and made["fixes"]["email_wrapping"] == 3
    assert sorted(contacts(engine)) == sorted(after[0] for _, after in BROKEN)
    wrong = cli("validate", path, "--apply-fixes", "spelling", check=False)
    assert wrong.returncode == 2 and "the fixes are" in wrong.stderr


@pytest.fixture
def key(engine) -> dict:
    from core.access.keys import create_key
    return {"X-API-Key": create_key(engine, "sync", ADMIN, "admin")}


def test_the_api_offers_the_fixes_in_its_refusal_and_makes_them_when_asked(client, engine, key):
    body = [{"full_name": "Ann", "email": "mailto:ann@x.io", "linkedin_profile": "linkedin.com/in/ann"},
            {"full_name": "Bo", "email": "bo@x.io", "linkedin_profile": "https://www.linkedin.com/in/bo/"}]
    refused = client.post("/contacts/bulk", json=body, headers=key)
    assert refused.status_code == 422 and "apply_fixes=true" in refused.json()["detail"]["message"]
    assert {fix["kind"] for fix in refused.json()["detail"]["fixes"]} == {"mailto", "linkedin_scheme", "linkedin_slash"}
    made = client.post("/contacts/bulk", params={"apply_fixes": "true"}, json=body, headers=key)
    assert made.status_code == 201, made.text
    assert {fix["kind"]: fix["applied"] for fix in made.json()["fixes"]} == {
        "mailto": 1, "linkedin_scheme": 1, "linkedin_slash": 1}
    assert {e: c["linkedin_profile"] for e, c in contacts(engine).items()} == {
        "ann@x.io": "https://linkedin.com/in/ann", "bo@x.io": "https://www.linkedin.com/in/bo"}
    record = client.get(f"/imports/{made.json()['import_id']}", headers=key).json()
    assert record["fixes"] == {"mailto": 1, "linkedin_scheme": 1, "linkedin_slash": 1}


def test_the_batches_of_an_api_import_add_up_their_fixes(client, engine, key):
    import_id = client.post("/imports/", json={"source": "sync"}, headers=key).json()["id"]
    headers = {**key, "X-Import-ID": import_id}
    for n in (1, 2):
        batch = client.post("/contacts/bulk", params={"apply_fixes": "true"}, headers=headers,
                            json=[{"full_name": "A", "email": f"<a{n}@x.io>", "linkedin_profile": f"linkedin.com/in/a{n}"}])
        assert batch.status_code == 201, batch.text
    assert client.put(f"/imports/{import_id}", json={"status": "completed"}, headers=key).status_code == 200
    assert client.get(f"/imports/{import_id}", headers=key).json()["fixes"] == {"email_wrapping": 2,
                                                                                 "linkedin_scheme": 2}


def test_an_error_file_uploaded_again_follows_its_import(engine):
    first = importing.import_file(engine, csv_bytes(person(1), person(2, email=""), person(3, email="bad@")),
                                  "expo.csv", "Expo")
    name, data = import_error_csv(engine, first.import_id)
    fixed = data.replace(b",,", b",person2@example.com,", 1).replace(b"bad@", b"person3@example.com")
    again = importing.import_file(engine, fixed, name, "Expo")
    assert again.inserted == 2
    record = get_import(engine, again.import_id)
    assert (record["follows"], record["follows_file"]) == (first.import_id, "expo.csv")
    assert [later["id"] for later in importing.Service(engine).follow_ups(first.import_id)] == [again.import_id]
    other = importing.import_file(engine, csv_bytes(person(4)), "other.csv", "Expo")
    assert get_import(engine, other.import_id)["follows"] is None


def test_an_error_file_with_its_rows_edited_beyond_recognition_follows_nothing(engine):
    first = importing.import_file(engine, csv_bytes(person(1), person(2, email="")), "expo.csv", "Expo")
    _, data = import_error_csv(engine, first.import_id)
    forged = data.replace(b"row 3:", b"row 9:").replace(b",,", b",person2@example.com,", 1)
    again = importing.import_file(engine, forged, "expo_errors.csv", "Expo")
    assert get_import(engine, again.import_id)["follows"] is None


# object: values built in Python; "str": what the reader makes, Arrow behind pandas, in chunks
@pytest.mark.parametrize("text_type", [object, "str"])
@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(URLISH, TEXT), min_size=1_001, max_size=1_200))
def test_many_linkedin_urls_are_fixed_column_by_column_as_they_are_one_by_one(text_type, urls):
    import core.rows.quick_fixes as quick_fixes
    frame = rows_of(*(("a@x.io", url) for url in urls))
    frame["linkedin_profile"] = pd.concat([part.astype(text_type) for part in (frame["linkedin_profile"][:500],
                                                                               frame["linkedin_profile"][500:])])
    by_column = validate(frame, fixes=frozenset(KINDS))
    quick_fixes.VECTOR_FROM, kept = 10**9, quick_fixes.VECTOR_FROM
    try:
        one_by_one = validate(frame, fixes=frozenset(KINDS))
    finally:
        quick_fixes.VECTOR_FROM = kept
    assert [o.as_dict() for o in by_column.fixes] == [o.as_dict() for o in one_by_one.fixes]
    assert by_column.normalized["linkedin_profile"].equals(one_by_one.normalized["linkedin_profile"])


@pytest.mark.parametrize("text_type", [object, "string[pyarrow]"])
def test_a_missing_url_among_many_is_left_alone_by_every_fix(text_type):
    # candidates() passes present values only; a gap is still no crash, and no fix
    from core.rows.quick_fixes import VECTOR_FROM, _fix_urls
    urls = pd.Series(["https://\uff4cinkedin.com/in/a", None, "http://linkedin.com/in/b/"] * VECTOR_FROM,
                     dtype=text_type)
    fixes = _fix_urls(urls, ["full_width", "linkedin_scheme", "linkedin_slash"])
    assert fixes.positions.tolist() == [n for n in range(len(urls)) if n % 3 != 1]
    assert fixes.values_after()[:2] == ["https://linkedin.com/in/a", "http://linkedin.com/in/b"]


SPACES_AND_INVISIBLES = st.sampled_from(["\u00a0", "\u2028", "\u3000", "\x85", "\u200b", "\u202e", "\ufeff", "\u1680",
                                         "\u00ad", "\x1c", "\u0131", "\u212a", "K", "\n", "\t", " "])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(lambda url, where, odd: url[:where] + odd + url[where:], URLISH,
                          st.integers(0, 40), st.one_of(st.just(""), SPACES_AND_INVISIBLES, TEXT)),
                min_size=1, max_size=50))
def test_the_column_check_of_linkedin_urls_is_the_one_value_check(urls):
    # is_linkedin_profile runs Arrow's RE2 on the column; one value at a time it is Python's re
    # (VALUE_CHECKS): the pattern is written so that both read it alike.
    from core.rows.validation import is_linkedin_profile
    assert is_linkedin_profile(pd.Series(urls)).tolist() == [bool(VALUE_CHECKS["linkedin_url"](u)) and u != ""
                                                            for u in urls]
