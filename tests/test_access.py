"""Who may do what (issue 13): roles checked in the service, sign-in with an allow-list, and the
audit trail, through the service, the CLI, the console and the HTTP API."""
from __future__ import annotations

import time

import jwt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from api import api, deps
from core.importing import Service
from core.storage import audit_log
from core.importing import drafts
from core import importing
from api.tokens import JwtSettings
from core.access import ADMIN as ADMIN_ROLE, AccessRefused, Actor, Policy, policy_from, token_role
from core.access.keys import create_key, list_keys, revoke_key
from core.errors import ImportConsoleError
from core.files.exporting import to_export_csv
from core.storage.history import get_import, list_imports
from tests.conftest import DATA
from tests.helpers import ADMIN, IMPORTER, count, csv_bytes, open_tab, person
from tests.test_cli import cli
from tests.test_pages import TIMEOUT, click, finish_commits, metrics, no_exceptions, shown, upload


ROLES = {"admin": ["ana@example.com"], "importer": ["@example.com", "contractor@gmail.com"]}
# what st.login needs; never used to reach a provider here
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "cookie-secret-for-tests",
        "client_id": "console", "client_secret": "client-secret-for-tests",
        "server_metadata_url": "https://id.example.com/.well-known/openid-configuration"}


def actions(engine, import_id: str) -> list[tuple[str, str, str]]:
    return [(r.action, r.actor, r.role) for r in audit_log.trail(engine, import_id).itertuples()]


# --- the rules --------------------------------------------------------------------------------

def test_roles_come_from_emails_and_domains_and_admin_includes_importer():
    policy = policy_from({"roles": ROLES})
    assert policy.role_of("ana@example.com") == "admin"
    assert policy.role_of("Ivy@Example.com") == "importer"  # a domain entry, in any case
    assert policy.role_of("contractor@gmail.com") == "importer"
    assert policy.role_of("mallory@gmail.com") is None
    assert policy.role_of("ivy@evil-example.com") is None and policy.role_of("a@b@example.com") is None
    assert policy.role_of(None) is None
    assert Policy({}, configured=False).role_of("anyone") == ADMIN_ROLE  # one local user
    with pytest.raises(ImportConsoleError, match="names owner"):
        policy_from({"roles": {"owner": ["x@example.com"]}})
    with pytest.raises(ImportConsoleError, match="must be a list"):
        policy_from({"roles": {"admin": "ana@example.com"}})


def test_the_service_refuses_an_undo_by_an_importer_and_says_which_role_it_needs(engine):
    result = importing.import_file(engine, csv_bytes(person(1), person(2)), "a.csv", "csv", actor=IMPORTER)
    with pytest.raises(AccessRefused) as refused:
        importing.undo(engine, result.import_id, IMPORTER)
    assert str(refused.value) == ("Undoing an import needs the admin role; ivy@example.com is an importer. "
                                  "Ask an admin if you need it.")
    assert get_import(engine, result.import_id)["status"] == "completed" and count(engine, "contacts") == 2
    assert actions(engine, result.import_id) == [("committed", "ivy@example.com", "importer"),
                                                 ("refused", "ivy@example.com", "importer")]
    nobody = Actor("mallory@gmail.com", None)
    with pytest.raises(AccessRefused, match="Importing contacts needs the importer role; mallory@gmail.com "
                                            "is not given any role"):
        importing.import_file(engine, csv_bytes(person(3)), "b.csv", "csv", actor=nobody)
    assert count(engine, "imports") == 1  # refused before any record was made
    importing.undo(engine, result.import_id, ADMIN)
    assert count(engine, "contacts") == 0


def test_keys_are_an_admins_to_make_list_and_revoke_and_carry_a_role(engine):
    for attempt in (lambda: create_key(engine, "sync", IMPORTER), lambda: list_keys(engine, IMPORTER),
                    lambda: revoke_key(engine, "sync", IMPORTER)):
        with pytest.raises(AccessRefused, match="Managing API keys needs the admin role"):
            attempt()
    create_key(engine, "sync", ADMIN)
    create_key(engine, "ops", ADMIN, "admin")
    assert list_keys(engine, ADMIN)[["name", "role"]].values.tolist() == [["sync", "importer"], ["ops", "admin"]]
    with pytest.raises(ImportConsoleError, match="importer or admin"):
        create_key(engine, "x", ADMIN, "owner")
    revoke_key(engine, "sync", ADMIN)
    trail = audit_log.trail(engine)
    keys = trail[trail["action"].str.startswith("key")]
    assert keys[["action", "actor", "subject"]].values.tolist()[-3:] == [
        ["key created", "ana@example.com", "sync"], ["key created", "ana@example.com", "ops"],
        ["key revoked", "ana@example.com", "sync"]]


def test_another_users_draft_opens_for_an_admin_only(engine, seed_csv):
    draft = importing.open_file(engine, seed_csv, "seed.csv", source="csv", actor=IMPORTER)
    token = drafts.new_token()
    drafts.save_draft(engine, token, draft, {"step": "map"})
    other = Actor("otto@example.com", "importer")
    with pytest.raises(AccessRefused, match="Opening another user's draft needs the admin role"):
        drafts.load_draft(engine, token, other)
    assert drafts.load_draft(engine, token, IMPORTER) is not None  # its owner
    resumed, _ = drafts.load_draft(engine, token, ADMIN)
    assert resumed.actor == ADMIN  # whoever commits it is named, not the draft's owner
    assert drafts.list_drafts(engine, other).empty
    assert drafts.list_drafts(engine, IMPORTER)["file_name"].tolist() == ["seed.csv"]
    assert drafts.list_drafts(engine, ADMIN)["created_by"].tolist() == ["ivy@example.com"]


def test_the_audit_trail_is_append_only_whatever_the_application_does(engine):
    importing.import_file(engine, csv_bytes(person(1)), "a.csv", "csv", actor=IMPORTER)
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log",
                      "TRUNCATE audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only"):
            with engine.begin() as conn:
                conn.execute(sa.text(statement))


def test_a_rolled_back_commit_leaves_no_audit_row_and_its_retry_is_recorded_as_one(engine):
    import_id = importing.create_record(engine, importing.open_file(None, csv_bytes(person(1)), "a.csv",
                                                                    source="csv", actor=IMPORTER))
    draft = importing.open_file(None, csv_bytes(person(1), person(1, full_name="Twin")), "a.csv", actor=IMPORTER)
    report = importing.validate_draft(draft)

    def explode(stage, done, total):
        if stage == "completing":
            raise RuntimeError("the server went away")
    from core.storage.commit import commit_import
    with pytest.raises(ImportConsoleError):
        commit_import(engine, import_id, report, on_progress=explode, actor=IMPORTER)
    assert actions(engine, import_id) == []  # nothing was committed, so nothing is recorded
    commit_import(engine, import_id, report, actor=ADMIN)  # the failed import, committed again
    assert actions(engine, import_id) == [("retried", "ana@example.com", "admin")]


# --- the CLI ------------------------------------------------------------------------------------

@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    path = tmp_path / "secrets.toml"
    path.write_text('[roles]\nadmin = ["ana@example.com"]\nimporter = ["@example.com"]\n')
    monkeypatch.setenv("CONTACT_IMPORT_SECRETS", str(path))
    return path


def test_the_cli_refuses_an_undo_by_an_importer_with_the_services_message(engine, database_url, secrets_file,
                                                                           monkeypatch, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(person(1)))
    monkeypatch.setenv("CONTACT_IMPORT_USER", "ivy@example.com")
    cli("import", path, "--source", "csv", database_url=database_url)
    import_id = list_imports(engine).iloc[0].id
    refused = cli("undo", import_id, database_url=database_url, check=False)
    assert refused.returncode == 2
    assert refused.stderr == ("error: Undoing an import needs the admin role; ivy@example.com is an importer. "
                              "Ask an admin if you need it.\n")
    assert cli("api-keys", "list", database_url=database_url, check=False).returncode == 2
    monkeypatch.setenv("CONTACT_IMPORT_USER", "ana@example.com")
    cli("undo", import_id, database_url=database_url)
    monkeypatch.setenv("CONTACT_IMPORT_USER", "root")  # on no list: refused everything
    assert "not given any role" in cli("imports", database_url=database_url, check=False).stderr
    assert actions(engine, import_id) == [("committed", "ivy@example.com", "importer"),
                                          ("refused", "ivy@example.com", "importer"),
                                          ("undone", "ana@example.com", "admin")]
    csv_out = cli("audit", "--csv", "--import", import_id, database_url=database_url, check=False)
    assert csv_out.returncode == 2  # root may not read it
    monkeypatch.setenv("CONTACT_IMPORT_USER", "ana@example.com")
    rows = cli("audit", "--csv", "--import", import_id, database_url=database_url).stdout.splitlines()
    assert rows[0].startswith("at,actor,role,via,action") and len(rows) == 4


# --- the HTTP API -------------------------------------------------------------------------------

@pytest.fixture
def client(engine):
    api.dependency_overrides[deps.service] = lambda: Service(engine)
    api.dependency_overrides[deps.policy] = lambda: policy_from({"roles": ROLES})
    with TestClient(api) as test_client:
        yield test_client
    api.dependency_overrides.clear()


def test_the_api_flow_is_audited_with_each_keys_name_and_an_importer_key_cannot_undo(client, engine):
    sync = {"X-API-Key": create_key(engine, "HubSpot sync", ADMIN)}
    ops = {"X-API-Key": create_key(engine, "Ops", ADMIN, "admin")}
    import_id = client.post("/imports/", json={"source": "HubSpot"}, headers=sync).json()["id"]
    added = client.post("/contacts/bulk", headers={**sync, "X-Import-ID": import_id},
                        json=[person(1), person(2)])
    assert added.status_code == 201, added.text
    campaign = client.post("/campaigns", json={"name": "Q4"}, headers=sync).json()["id"]
    assert client.put(f"/imports/{import_id}", json={"status": "completed", "campaign_id": campaign},
                      headers=sync).status_code == 200
    refused = client.post(f"/imports/{import_id}/undo", headers=sync)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Undoing an import needs the admin role; HubSpot sync is an importer. "
                                        "Ask an admin if you need it."}
    assert client.post(f"/imports/{import_id}/undo", headers=ops).status_code == 200
    assert [(a, who) for a, who, _ in actions(engine, import_id)] == [
        ("contacts added", "HubSpot sync"), ("committed", "HubSpot sync"), ("attached", "HubSpot sync"),
        ("refused", "HubSpot sync"), ("undone", "Ops")]
    for _ in range(3):  # a script retrying: one row a minute, not one per call
        assert client.post(f"/imports/{import_id}/undo", headers=sync).status_code == 403
    assert [a for a, _, _ in actions(engine, import_id)].count("refused") == 1
    assert set(audit_log.trail(engine, import_id)["via"]) == {"api"}


def bearer(subject: str, **claims) -> dict:
    token = jwt.encode({"sub": subject, "exp": time.time() + 60, **claims}, "s" * 32, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def test_a_tokens_role_is_what_roles_gives_its_subject_and_its_claim_can_only_lower_it(client, engine):
    api.dependency_overrides[deps.settings] = lambda: JwtSettings(secret="s" * 32)
    result = importing.import_file(engine, csv_bytes(person(1)), "a.csv", "csv", actor=ADMIN)
    undo = f"/imports/{result.import_id}/undo"
    refused = client.get("/imports", headers=bearer("mallory@gmail.com", contact_import_role="admin"))
    assert refused.status_code == 403 and "mallory@gmail.com is not given any role" in refused.json()["detail"]
    assert client.post(undo, headers=bearer("ivy@example.com", contact_import_role="admin")).status_code == 403
    assert client.post(undo, headers=bearer("ivy@example.com", role="admin")).status_code == 403
    assert client.post(undo, headers=bearer("ana@example.com", contact_import_role="importer")).status_code == 403
    assert client.post(undo, headers=bearer("ana@example.com")).status_code == 200


def test_without_roles_a_token_is_an_importer_unless_its_claim_says_admin():
    unconfigured = Policy({}, configured=False)
    assert token_role("robot", None, unconfigured) == "importer"
    assert token_role("robot", "admin", unconfigured) == "admin"
    assert token_role("robot", "owner", unconfigured) == "importer"


# --- the console --------------------------------------------------------------------------------

def console_page(name: str, email: str | None = None, *, signed_in: bool = True, roles=ROLES,
                 auth: bool = True, verified: bool | None = True, **more_secrets) -> AppTest:
    at = AppTest.from_file(f"../{'app' if name == 'app' else 'pages/' + name}.py", default_timeout=TIMEOUT)
    if auth:
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": signed_in, **({"email": email, "email_verified": verified} if email else {})}
    if roles is not None:
        at.secrets["roles"] = roles
    at.secrets.update(more_secrets)
    return at.run()


@pytest.fixture
def console(database_url, engine, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    return engine


@pytest.mark.parametrize("name", ["new_import", "history", "campaigns", "api_keys", "audit", "personal_data"])
def test_a_signed_in_user_not_on_the_allow_list_sees_no_page_content(console, name):
    at = console_page(name, "mallory@gmail.com")
    no_exceptions(at)
    assert [shown(e.value) for e in at.error] == ["mallory@gmail.com is not allowed in this console. "
                                                  "Ask an admin to add you."]
    assert not at.title and not at.text_input and not at.dataframe and not at.file_uploader
    assert [b.label for b in at.button] == ["Sign out"]
    refusals = audit_log.trail(console)
    assert refusals[["action", "actor"]].values.tolist()[-1] == ["sign-in refused", "mallory@gmail.com"]


def test_a_refused_sign_in_is_recorded_once_per_session_and_nobody_gets_in_without_roles(console):
    def refusals() -> int:
        return int((audit_log.trail(console)["action"] == "sign-in refused").sum())
    before = refusals()
    at = console_page("history", "mallory@gmail.com")
    at.run()
    assert refusals() == before + 1
    at = console_page("history", "ana@example.com", roles=None)
    assert "Nobody is allowed in yet" in at.error[0].value and not at.title


def test_an_email_the_provider_did_not_verify_gets_no_role(console):
    for verified in (False, None):
        at = console_page("new_import", "ana@example.com", verified=verified)
        assert "has not verified ana@" in shown(at.error[0].value) and not at.title
    trusting = console_page("new_import", "ana@example.com", verified=None, accept_unverified_email=True)
    assert trusting.title[0].value == "New import"


def test_signed_out_visitors_see_only_the_sign_in_button(console):
    at = console_page("app", signed_in=False)
    no_exceptions(at)
    assert [b.label for b in at.button] == ["Sign in"] and at.title[0].value == "Contact Import Console"
    assert not at.dataframe and not at.file_uploader


def test_the_local_mode_notice_is_on_every_page_without_sign_in(console, monkeypatch):
    monkeypatch.setenv("CONTACT_IMPORT_USER", "kim")
    for name in ("new_import", "history", "campaigns", "api_keys", "audit", "personal_data"):
        at = console_page(name, auth=False, roles=None)
        no_exceptions(at)
        assert "Local mode: no sign-in is configured" in shown(at.sidebar.caption[0].value), name
        assert at.title  # the page itself: kim is the one local user, an admin


def test_an_importer_sees_why_undo_and_the_admin_pages_are_not_theirs(console):
    result = importing.import_file(console, csv_bytes(person(1)), "a.csv", "csv", actor=IMPORTER)
    at = console_page("history", "ivy@example.com")
    at.selectbox[3].set_value(result.import_id).run()
    open_tab(at, result.import_id, "Undo")
    assert shown(at.info[0].value) == ("Undoing an import needs the admin role; ivy@example.com is an importer. "
                                       "Ask an admin if you need it.")
    assert [b for b in at.button if b.label == "Undo this import"][0].disabled
    assert "needs the admin role" in console_page("api_keys", "ivy@example.com").error[0].value
    assert "Reading the audit trail needs the admin role" in console_page("audit", "ivy@example.com").error[0].value
    assert "Erasing a person's data needs the admin role" in shown(
        console_page("personal_data", "ivy@example.com").error[0].value)


def test_the_console_flow_import_attach_undo_is_audited_in_order_with_the_signed_in_actor(console):
    at = console_page("new_import", "ana@example.com")
    at.text_input[0].set_value("csv").run()
    at = click(at, "Next: upload")
    at = upload(at, "seed.csv", (DATA / "seed.csv").read_bytes())
    at = click(click(at, "Next: review"), "Next: commit 2 contacts")
    at = finish_commits(click(at, "Commit now"))
    assert metrics(at)["Inserted"] == "2"
    at.selectbox[0].set_value("+ New campaign…").run()
    at.text_input[0].set_value("Q4 Outreach").run()
    at = click(at, "Attach")
    no_exceptions(at)
    import_id = at.session_state["import_wizard"].draft.import_id
    assert get_import(console, import_id)["created_by"] == "ana@example.com"
    history = console_page("history", "ana@example.com")
    history.selectbox[3].set_value(import_id).run()
    open_tab(history, import_id, "Undo")
    history.checkbox[0].check().run()
    [b for b in history.button if b.label == "Undo this import"][0].click().run()
    no_exceptions(history)
    assert actions(console, import_id) == [("committed", "ana@example.com", "admin"),
                                           ("attached", "ana@example.com", "admin"),
                                           ("undone", "ana@example.com", "admin")]
    assert set(audit_log.trail(console, import_id)["via"]) == {"console"}
    activity = open_tab(history, import_id, "Activity").dataframe[-1].value
    assert activity["action"].tolist() == ["committed", "attached", "undone"]


def test_the_audit_page_exports_formula_safe_rows(console):
    importing.import_file(console, csv_bytes(person(1)), "a.csv", "csv",
                          actor=Actor("=HYPERLINK(\"http://evil\")", "importer", "cli"))
    at = console_page("audit", "ana@example.com")
    no_exceptions(at)
    assert at.dataframe[0].value["actor"].tolist()[-1] == "=HYPERLINK(\"http://evil\")"
    assert at.dataframe[0].value["file_name"].tolist()[-1] == "a.csv"  # issue 23: the import by its file too
    exported = to_export_csv(audit_log.trail(console)).decode("utf-8-sig")
    assert "'=HYPERLINK" in exported and ",=HYPERLINK" not in exported
    download = [d for d in at.get("download_button") if d.label == "Download these rows (CSV)"]
    assert download
