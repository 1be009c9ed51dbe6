import random
import unicodedata

import pandas as pd
import pytest

from core.fields import FIELDS, ROW
from core.rows.validation import REASONS, international_email, is_email, validate

GOOD = {"full_name": "Ann Lee", "email": "ann@example.com",
        "linkedin_profile": "https://www.linkedin.com/in/annlee", "company": "Acme",
        "locale": "en-US", "timezone": "Europe/Paris", "metadata": '{"source": "csv"}'}


def frame(*rows: dict) -> pd.DataFrame:
    records = [{**{f: "" for f in FIELDS}, **row, ROW: i} for i, row in enumerate(rows, start=2)]
    return pd.DataFrame(records, columns=[*FIELDS, ROW])


def errors_of(**changes) -> list[tuple]:
    report = validate(frame({**GOOD, **changes}))
    return [(e.row, e.column, e.reason) for e in report.errors.itertuples()]


def test_a_complete_row_is_valid():
    report = validate(frame(GOOD))
    assert report.errors.empty and len(report.valid) == 1 and report.invalid == 0


def test_only_required_fields_is_valid():
    report = validate(frame({"full_name": "A", "email": "a@x.io", "linkedin_profile": "https://linkedin.com/in/a"}))
    assert report.errors.empty


@pytest.mark.parametrize("field", ["full_name", "email", "linkedin_profile"])
def test_required_fields_must_not_be_empty(field):
    assert errors_of(**{field: "   "}) == [(2, field, "is required but empty")]


def test_full_name_is_trimmed_and_at_most_255_characters():
    assert validate(frame({**GOOD, "full_name": "  Ann  "})).valid.loc[0, "full_name"] == "Ann"
    assert errors_of(full_name="x" * 255) == []
    assert errors_of(full_name="x" * 256) == [(2, "full_name", "is longer than 255 characters")]


def test_email_is_stored_trimmed_and_lower_case():
    assert validate(frame({**GOOD, "email": "  Ann.Lee@Example.COM "})).valid.loc[0, "email"] == "ann.lee@example.com"


@pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@sub.example.co.uk", "o'brien@x.io"])
def test_email_accepts_html_standard_addresses(email):
    assert errors_of(email=email) == []


@pytest.mark.parametrize("email", ["a@b", "x@localhost", "jordan@northwind"])
def test_email_needs_a_dotted_domain(email):
    assert errors_of(email=email) != []


@pytest.mark.parametrize("email", ["plain", "a@", "@b.io", "a b@x.io", "a@-x.io", "a@x..io", "a@@x.io", "ä@x", "ä b@x.io"])
def test_email_rejects_invalid_syntax(email):
    assert errors_of(email=email) == [(2, "email", "is not a valid email address")]


def test_email_is_held_to_rfc_5321_lengths():
    """Issue 21, point 6: the HTML standard's pattern took a 300-character local part."""
    local = "a" * 64
    assert errors_of(email=f"{local}@example.com") == []
    assert errors_of(email=f"{local}b@example.com") == [(2, "email", REASONS["email_syntax"])]
    domain = ".".join(["d" * 61] * 4)[: 254 - len(local) - 1 - 4] + ".com"
    assert len(f"{local}@{domain}") == 254 and errors_of(email=f"{local}@{domain}") == []
    assert errors_of(email=f"{local}@x{domain}") == [(2, "email", REASONS["email_syntax"])]


def test_email_lengths_count_characters_beside_international_addresses():
    # the limits are counted in bytes (is_email), which only ASCII addresses pass on: an
    # international one is email-validator's, in characters
    emails = ["a" * 64 + "@example.com", "a" * 65 + "@example.com", "ü" * 40 + "@bücher.de", "ü" * 65 + "@bücher.de"]
    for text_type in (object, "str"):
        rows = frame(*({**GOOD, "email": email} for email in emails))
        rows["email"] = rows["email"].astype(text_type)
        report = validate(rows)
        assert [(e.row, e.column) for e in report.errors.itertuples()] == [(3, "email"), (5, "email")]


@pytest.mark.parametrize("text_type", [object, "str", "string[pyarrow]"])
def test_a_missing_value_is_no_email_in_any_column_type(text_type):
    # the checks' callers pass normalized strings; a column with a gap is answered, not a crash
    emails = pd.Series(["ann@example.com", None, "müller@bücher.de", "MÜLLER@bücher.de"], dtype=text_type)
    assert is_email(emails).tolist() == [True, False, True, False]


@pytest.mark.parametrize("url", ["https://linkedin.com/in/jane", "http://www.linkedin.com/in/jane-doe-123/",
                                 "https://uk.linkedin.com/in/j%C3%A9r%C3%B4me", "https://LinkedIn.com/in/Jane?trk=x"])
def test_linkedin_profile_accepts_profile_urls(url):
    assert errors_of(linkedin_profile=url) == []


@pytest.mark.parametrize("url", ["linkedin.com/in/jane", "https://linkedin.com/company/acme", "https://evil.com/in/jane",
                                 "https://linkedin.com.evil.com/in/jane", "ftp://linkedin.com/in/jane",
                                 "https://linkedin.com/in/", "https://notlinkedin.com/in/jane"])
def test_linkedin_profile_rejects_other_urls(url):
    assert errors_of(linkedin_profile=url) == [
        (2, "linkedin_profile", "is not a LinkedIn profile URL (expected https://linkedin.com/in/<name>)")]


def test_company_is_optional_and_at_most_255_characters():
    assert errors_of(company="") == []
    assert errors_of(company="c" * 256) == [(2, "company", "is longer than 255 characters")]


@pytest.mark.parametrize("tag", ["en", "en-US", "pt-BR", "zh-Hant-TW", ""])
def test_locale_accepts_bcp47_tags(tag):
    assert errors_of(locale=tag) == []


def test_locale_with_underscore_is_stored_with_a_hyphen():
    assert validate(frame({**GOOD, "locale": "en_US"})).valid.loc[0, "locale"] == "en-US"


@pytest.mark.parametrize("tag", ["english", "zz-ZZ", "123", "e"])
def test_locale_rejects_other_values(tag):
    assert errors_of(locale=tag) == [(2, "locale", "is not a language code such as en, en-US or pt-BR")]


@pytest.mark.parametrize("zone, ok", [("America/New_York", True), ("UTC", True), ("Asia/Kolkata", True),
                                      ("EST5EDT", True), ("Mars/Olympus", False), ("GMT+25", False),
                                      ("new york", False)])
def test_timezone_must_be_an_iana_name(zone, ok):
    expected = [] if ok else [(2, "timezone", "is not a time zone name such as Europe/Berlin or America/New_York")]
    assert errors_of(timezone=zone) == expected


@pytest.mark.parametrize("text, ok", [('{"source": "csv"}', True), ("{}", True), ('{"a": {"b": [1]}}', True),
                                      ("[1, 2]", False), ('"text"', False), ("{source: csv}", False),
                                      ('{"a": NaN}', False)])
def test_metadata_must_be_a_json_object(text, ok):
    expected = [] if ok else [(2, "metadata", 'is not a set of extra fields written as {"source": "csv"}')]
    assert errors_of(metadata=text) == expected


def test_a_json_nul_escape_is_refused_with_its_own_reason():
    assert errors_of(metadata='{"a": "\\u0000"}') == [
        (2, "metadata", "holds a NUL character (\\u0000), which cannot be stored")]


def test_nul_characters_are_rejected_because_postgresql_cannot_store_them():
    assert errors_of(company="Ac\x00me") == [(2, "company", "contains a NUL character, which cannot be stored")]


def test_every_failure_of_every_row_is_reported_with_row_column_and_value():
    report = validate(frame(GOOD, {**GOOD, "email": "bad", "timezone": "Nowhere", "full_name": ""},
                            {**GOOD, "email": "c@x.io"}))
    assert report.errors.to_dict("records") == [
        {"row": 3, "column": "email", "reason": "is not a valid email address", "value": "bad"},
        {"row": 3, "column": "full_name", "reason": "is required but empty", "value": ""},
        {"row": 3, "column": "timezone", "reason": "is not a time zone name such as Europe/Berlin or America/New_York",
         "value": "Nowhere"},
    ]
    assert report.invalid == 1
    assert report.valid[ROW].tolist() == [2, 4]


def test_within_the_file_the_last_valid_row_of_an_email_wins():
    report = validate(frame({**GOOD, "company": "First"}, {**GOOD, "email": "ANN@example.com", "company": "Second"},
                            {**GOOD, "company": "Third", "timezone": "bad/zone"}))
    assert report.valid["company"].tolist() == ["Second"]
    assert report.duplicates.to_dict("records") == [{"row": 2, "email": "ann@example.com", "kept_row": 3}]
    rejected = report.error_report().to_dict("records")
    assert rejected[0] == {"row": 2, "column": "email", "value": "ann@example.com",
                           "reason": "duplicate email in this file: row 3 is imported instead"}
    assert rejected[1]["row"] == 4


def test_byte_order_marks_and_zero_width_spaces_at_either_end_are_trimmed():
    # Issue 9, point 12: files glued together carry a U+FEFF into the first cell of the second.
    valid = validate(frame({**GOOD, "email": "\ufeffAnn@X.io", "full_name": " \u200bAnn\ufeff\u00a0",
                            "company": "\u3000Acme\u2060"})).valid
    assert valid.loc[0, ["email", "full_name", "company"]].tolist() == ["ann@x.io", "Ann", "Acme"]


@pytest.mark.parametrize("given, stored", [
    ("Omar.Müller@Example.com", "omar.müller@example.com"),
    ("mu\u0308ller@example.com", "müller@example.com"),        # decomposed ü: stored composed (NFC)
    ("用户@例子.广告", "用户@例子.广告"),
    ("josé@bücher.de", "josé@bücher.de"),
    ("jose@xn--bcher-kva.de", "jose@bücher.de"),             # one spelling of the domain
])
def test_internationalized_addresses_are_accepted_in_one_stored_form(given, stored):
    report = validate(frame({**GOOD, "email": given}))
    assert report.errors.empty
    assert report.valid.loc[0, "email"] == stored


@pytest.mark.parametrize("email", ["ünï@nodot", "müller@@example.com", "müller@exa mple.com", "@bücher.de"])
def test_invalid_internationalized_addresses_are_refused(email):
    assert errors_of(email=email) == [(2, "email", "is not a valid email address")]


def test_two_spellings_of_one_international_address_are_one_contact():
    report = validate(frame({**GOOD, "email": "MÜLLER@example.com"}, {**GOOD, "email": "mu\u0308ller@example.com"}))
    assert report.valid_count == 1 and len(report.duplicates) == 1


@pytest.mark.parametrize("url", [
    "https://www.lınkedın.com/in/x",            # dotless i's: case-insensitive over Unicode took them
    "https://www.linked\u212ain.com/in/x",       # a Kelvin sign for the k
    "https://www.linkedin.com/in/ann\u202enosl",  # a right-to-left override inside the slug
    "https://www.linkedin.com/in/an\u200bn",     # a zero-width space inside
])
def test_look_alike_linkedin_urls_are_refused(url):
    assert errors_of(linkedin_profile=url) == [(2, "linkedin_profile", REASONS["linkedin_url"])]


def test_linkedin_urls_in_capitals_or_with_unicode_slugs_are_accepted():
    assert errors_of(linkedin_profile="HTTPS://WWW.LINKEDIN.COM/IN/Jörg-Müller") == []


def _reference_international_email(value: str) -> str | None:
    """email-validator's own verdict, as international_email gave it before its domain cache."""
    from email_validator import EmailNotValidError, validate_email
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return None
    return unicodedata.normalize("NFC", checked.normalized.lower())


def _address_sample(count: int, seed: int = 7) -> list[str]:
    """Addresses as real files hold them, and broken ones: international local parts and domains,
    xn-- domains, quoting, display names, brackets, lengths, dots, spaces, combining marks."""
    rng = random.Random(seed)
    locals_ = ["müller", "josé.garcía", "Postmaster", "ABUSE", "o'neil", "anna+tag", "zoë", "Иван", "李雷", "a..b",
               ".start", "end.", '"quoted"', "space here", "e\u0301lise", "x" * 65, "x" * 64, "", "user\u200b",
               "ñandú", "δοκιμή", "😀", "a@b", "tab\tname", "ok_name", "İstanbul"]
    domains = ["bücher.de", "example.com", "xn--bcher-kva.de", "MÜNCHEN.de", "例え.jp", "exa_mple.com", "-bad.com",
               "nodot", "[127.0.0.1]", "a" * 64 + ".com", "sub.ñandú.ar", "xn--zz.com", "δοκιμή.gr", "", "ex ample.com",
               "b\u0308cher.de", "bücher.de.", "localhost", "test", "example.invalid", "faß.de", "ＥＸＡＭＰＬＥ.com"]
    sample = []
    for _ in range(count):
        local, domain = rng.choice(locals_), rng.choice(domains)
        address = f"{local}{rng.randrange(1000) if rng.random() < 0.5 else ''}@{domain}"
        shape = rng.random()
        if shape < 0.03:
            address = f"Name <{address}>"
        elif shape < 0.05:
            address = address.upper()
        elif shape < 0.06:
            address = address.replace("@", "@@")
        sample.append(address)
    return sample


def test_international_addresses_get_email_validators_own_verdicts():
    """The domain's check is cached (international_email); the verdict and stored form of every
    address must stay email-validator's own."""
    sample = _address_sample(20_000)
    assert [international_email(a) for a in sample] == [_reference_international_email(a) for a in sample]
    valid = sum(_reference_international_email(a) is not None for a in sample)
    assert 0.2 * len(sample) < valid < 0.8 * len(sample)  # the sample holds both verdicts in number


def test_small_batches_run_the_schemas_checks_directly_with_panderas_verdicts():
    """Batches of up to DIRECT_ROWS skip pandera's machinery; their errors must be pandera's."""
    from core.rows import validation
    rng = random.Random(3)
    bad = {"full_name": ["", "x" * 300, "a\x00b"], "email": ["", "not-an-email", "müller@bücher.de", "a\x00@b.io",
                                                               "ANN@X.IO", "x@y"],
           "linkedin_profile": ["", "https://example.com/in/x", "https://linkedin.com/in/ok"],
           "company": ["", "y" * 300, "c\x00"], "locale": ["", "english", "pt-BR"],
           "timezone": ["", "Mars/Olympus", "Europe/Paris"],
           "metadata": ["", "[1, 2]", '{"a": 1}', '{"deep": ' * 50, '{"n": 1e999999}', '"text"']}
    rows = [{field: rng.choice(bad[field] + [GOOD[field]] * 3) for field in FIELDS} for _ in range(2000)]
    mapped = frame(*rows)
    direct = validate(mapped)
    original = validation.DIRECT_ROWS
    validation.DIRECT_ROWS = 0
    try:
        through_pandera = validate(mapped)
    finally:
        validation.DIRECT_ROWS = original
    assert len(direct.errors) > 500
    assert direct.errors.to_dict("records") == through_pandera.errors.to_dict("records")
    assert direct.kept.tolist() == through_pandera.kept.tolist()


def test_the_emails_of_rows_are_their_normalized_emails_and_empty_for_a_row_not_in_the_file():
    report = validate(frame({**GOOD, "email": " Ann@Example.com"}, {**GOOD, "email": "not an email"},
                            {**GOOD, "email": "Bob@Example.com"}))
    assert report.emails_of([4, 99, 2, 3]) == ["bob@example.com", "", "ann@example.com", "not an email"]
    assert report.emails_of([]) == []
