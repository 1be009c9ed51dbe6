"""The CLI through a real subprocess, on the test database."""
import json
import os
import subprocess
import sys

from core.storage.embedded import PROJECT_ROOT
from tests.conftest import DATA
from tests.helpers import contacts, count, csv_bytes, person, refusing


def cli(*args, database_url=None, check=True, env=None):
    env = {**os.environ, **({"DATABASE_URL": database_url} if database_url else {}), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_validate_json_reports_counts_mapping_and_errors(tmp_path):
    path = tmp_path / "hubspot.csv"
    path.write_text("First Name,Last Name,Email,LinkedIn URL,Company Name\n"
                    "Ann,Lee,ANN@x.io,https://linkedin.com/in/ann,Acme\n"
                    "Bob,Ray,not-an-email,https://linkedin.com/in/bob,Beta\n"
                    "Ann,Lee,ann@x.io,https://linkedin.com/in/ann2,Acme\n")
    report = json.loads(cli("validate", path, "--json").stdout)
    assert report == {
        "file": str(path), "rows": 3, "valid": 1, "invalid": 1, "duplicates": 1,
        "mapping": {"full_name": "First Name + Last Name", "email": "Email",
                    "linkedin_profile": "LinkedIn URL", "company": "Company Name"},
        "suggested_from_values": {},
        "errors": [{"row": 3, "column": "email", "reason": "is not a valid email address",
                    "value": "not-an-email"}],
        "possible_duplicates": [], "fixes": [],
    }


def test_validate_prints_a_readable_report():
    out = cli("validate", DATA / "seed.csv").stdout
    assert "2 rows, 2 to import, 0 invalid, 0 duplicate emails" in out


def test_an_unreadable_file_exits_2_with_one_line_on_stderr(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    done = cli("validate", path, "--json", check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "photo.png: this is a binary file" in done.stderr
    missing = cli("validate", tmp_path / "nope.csv", check=False)
    assert missing.returncode == 2 and "nope.csv: cannot be read" in missing.stderr


def test_import_then_reimport_then_history(database_url, engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(person(1), person(2), person(3, email="bad")))
    first = json.loads(cli("import", path, "--source", "csv", "--campaign", "Q4", "--json",
                           database_url=database_url).stdout)
    assert set(first) == {"import_id", "status", "inserted", "updated", "unchanged", "invalid", "duplicates",
                          "file_rows", "total_rows", "skipped", "already_there", "not_found", "fixes",
                          "suppressed"}
    assert (first["status"], first["inserted"], first["updated"], first["invalid"], first["total_rows"]) == (
        "completed", 2, 0, 1, 2)
    again = json.loads(cli("import", path, "--source", "csv", "--json", database_url=database_url).stdout)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    history = json.loads(cli("imports", "--json", database_url=database_url).stdout)
    assert [h["id"] for h in history] == [again["import_id"], first["import_id"]]
    assert history[1]["campaign"] == "Q4"
    assert "completed" in cli("imports", database_url=database_url).stdout
    undone = json.loads(cli("undo", again["import_id"], "--json", database_url=database_url).stdout)
    assert (undone["deleted"], undone["restored"], undone["conflicts"]) == (0, 0, [])
    refused = cli("undo", again["import_id"], database_url=database_url, check=False)
    assert refused.returncode == 2 and "only a completed import can be undone" in refused.stderr


def test_a_file_without_the_required_columns_is_named_in_the_message(tmp_path):
    path = tmp_path / "phones.csv"
    path.write_text("Phone,Street\n555,Main St\n")
    done = cli("validate", path, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: phones.csv: No column is mapped to the required fields: "
                                  "full_name, email, linkedin_profile.")


def test_dry_run_says_what_would_change_and_writes_nothing(database_url, engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(person(1, company="Old"), person(2)))
    cli("import", path, "--source", "csv", database_url=database_url)
    path.write_bytes(csv_bytes(person(1, company="New", locale="fr"), person(2), person(3),
                               person(4, email="bad"), person(3, company="Dup")))
    dry = json.loads(cli("import", path, "--source", "csv", "--dry-run", "--json",
                         database_url=database_url).stdout)
    assert dry == {"would_insert": 1, "would_update": 1, "unchanged": 1, "already_there": 0, "not_found": 0,
                   "invalid": 1, "duplicates": 1, "suppressed": 0, "changes": {"company": 1, "locale": 1},
                   "possible_duplicates": []}
    assert count(engine, "imports") == 1 and count(engine, "contacts") == 2
    text = cli("import", path, "--source", "csv", "--dry-run", database_url=database_url).stdout
    assert "nothing written: 1 would be inserted, 1 updated, 1 unchanged" in text


def test_the_mode_of_an_import_says_what_it_may_do_and_counts_what_it_left_out(database_url, engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(person(1, company="Old")))
    cli("import", path, "--source", "csv", database_url=database_url)
    path.write_bytes(csv_bytes(person(1, company="New"), person(2)))
    dry = json.loads(cli("import", path, "--source", "csv", "--mode", "update", "--dry-run", "--json",
                         database_url=database_url).stdout)
    assert (dry["would_insert"], dry["would_update"], dry["not_found"]) == (0, 1, 1)
    text = cli("import", path, "--source", "csv", "--mode", "create", database_url=database_url).stdout
    assert "1 inserted, 0 updated, 0 unchanged" in text and "1 already there" in text
    assert contacts(engine)[person(1)["email"]]["company"] == "Old"
    done = json.loads(cli("import", path, "--source", "csv", "--mode", "update", "--json",
                          database_url=database_url).stdout)
    assert (done["updated"], done["not_found"], done["already_there"]) == (1, 0, 0)
    refused = cli("import", path, "--source", "csv", "--mode", "merge", database_url=database_url, check=False)
    assert refused.returncode == 2 and "invalid choice: 'merge'" in refused.stderr


def test_a_failing_undo_is_one_line_on_stderr(database_url, engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(person(1)))
    first = json.loads(cli("import", path, "--source", "csv", "--json", database_url=database_url).stdout)
    with refusing(engine, "contacts", "DELETE", "delete refused by test"):
        done = cli("undo", first["import_id"], database_url=database_url, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "failed and changed nothing: delete refused by test" in done.stderr


def test_same_named_columns_that_disagree_stop_the_cli_until_map_says_which(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_bytes(b"Name,Email,Email,LinkedIn URL\n"
                     b"Ivy Chen,ivy.chen@example.com,ivy@home.example,https://linkedin.com/in/ivy\n")
    refused = cli("validate", path, check=False)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "2 columns are named 'Email'" in refused.stderr and "--map 'email=Email (2)'" in refused.stderr
    chosen = json.loads(cli("validate", path, "--json", "--map", "email=Email (2)").stdout)
    assert chosen["mapping"]["email"] == "Email (2)" and chosen["valid"] == 1


def test_validate_and_dry_run_list_possible_duplicates(tmp_path, database_url, engine):
    path = tmp_path / "same.csv"
    path.write_bytes(b"full_name,email,linkedin_profile\n"
                     b"Ann Lee,ann@example.com,https://linkedin.com/in/ann-lee\n"
                     b"Ann Lee,ann.lee@work.example,https://www.linkedin.com/in/Ann-Lee/\n")
    listed = json.loads(cli("validate", path, "--json").stdout)["possible_duplicates"]
    assert listed == [{"row": 3, "email": "ann.lee@work.example", "same_as_email": "ann@example.com",
                       "same_as": "row 2 of this file"}]
    dry = json.loads(cli("import", path, "--source", "cli", "--dry-run", "--json", database_url=database_url).stdout)
    assert dry["possible_duplicates"] == listed and dry["would_insert"] == 2
