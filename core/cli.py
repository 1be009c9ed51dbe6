"""python -m core: the scripting face of the same code the console runs.

    python -m core validate FILE [--map FIELD=COLUMN ...] [--json]
    python -m core import FILE --source NAME [--campaign NAME] [--map FIELD=COLUMN ...] [--dry-run] [--json]
    python -m core imports [--json]
    python -m core undo IMPORT_ID [--json]
    python -m core api-keys create NAME [--role importer|admin] [--json] | list [--json] | revoke NAME
    python -m core audit [--import IMPORT_ID] [--csv] [--json]

Who runs it is CONTACT_IMPORT_USER, else the OS user, with the role [roles] of
.streamlit/secrets.toml gives them (core.access): undo and API keys need the admin role.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from core import importing
from core.access import local_actor
from core.errors import AmbiguousColumns, ImportConsoleError, plural
from core.fields import FIELDS
from core.rows.mapping import describe_mapping, extra_key

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A failure is one line on stderr; its log record and traceback only with --verbose.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except AmbiguousColumns as error:
        print(f"error: {error} Say which with --map, e.g. --map {shlex.quote(error.example)}", file=sys.stderr)
        return 2
    except ImportConsoleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug or a lost server: one line, not a traceback
        log.debug("unexpected error", exc_info=True)
        first_line = (str(error).strip().splitlines() or [""])[0]
        print(f"error: {type(error).__name__}{': ' + first_line if first_line else ''}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Contact Import Console CLI")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens, with tracebacks")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    check = commands.add_parser("validate", help="read, map and validate a file; writes nothing")
    check.add_argument("file", type=Path)
    check.add_argument("--json", action="store_true", help="print one JSON object")
    _read_options(check)
    check.set_defaults(run=_validate)
    load = commands.add_parser("import", help="import a file in one transaction")
    load.add_argument("file", type=Path)
    load.add_argument("--source", required=True, help="where the contacts come from, e.g. HubSpot")
    load.add_argument("--campaign", help="attach the import to this campaign (created if new)")
    load.add_argument("--mode", choices=list(importing.MODES), default="upsert",
                      help="; ".join(f"{name}: {what}" for name, what in importing.MODES.items())
                      + " (default upsert). Rows left out count as already there (create) or not found (update)")
    load.add_argument("--confirm-changes", metavar="N|any",
                      help="write an import that changes N stored contacts (as a refusal named them), or any "
                           "number, when the guard on large changes is on (CONTACT_IMPORT_GUARD_CLI)")
    load.add_argument("--rule", action="append", default=[], metavar="FIELD=RULE", type=_rule,
                      help="what the import may do to FIELD of a stored contact: "
                      + "; ".join(f"{name}: {what}" for name, what in importing.RULES.items())
                      + " (default overwrite); repeatable")
    load.add_argument("--dry-run", action="store_true",
                      help="say what the import would insert, update and change; write nothing")
    load.add_argument("--json", action="store_true")
    _read_options(load)
    load.set_defaults(run=_import)
    history = commands.add_parser("imports", help="list imports, newest first")
    history.add_argument("--json", action="store_true")
    history.set_defaults(run=_imports)
    rejected = commands.add_parser("errors", help="write an import's error file (the rows to fix) to stdout")
    rejected.add_argument("import_id")
    rejected.set_defaults(run=_errors)
    revert = commands.add_parser("undo", help="revert a completed import, atomically")
    revert.add_argument("import_id")
    revert.add_argument("--json", action="store_true")
    revert.set_defaults(run=_undo)
    _api_key_commands(commands)
    _personal_data_commands(commands)
    schema = commands.add_parser("migrate", help="bring the database's schema up to date, as the tables' owner")
    schema.set_defaults(run=_migrate)
    trail = commands.add_parser("audit", help="the audit trail: who did what and when (admins)")
    trail.add_argument("--import", dest="import_id", help="only the rows of this import")
    trail.add_argument("--csv", action="store_true", help="as a formula-safe CSV file on stdout")
    trail.add_argument("--json", action="store_true")
    trail.set_defaults(run=_audit)
    return parser


def _personal_data_commands(commands) -> None:
    forget = commands.add_parser("erase", help="erase everything held about a person, and suppress the email (admins)")
    forget.add_argument("email")
    forget.add_argument("--json", action="store_true")
    forget.set_defaults(run=_erase)
    opt_out = commands.add_parser("suppress", help="put emails on the suppression list: no import writes them (admins)")
    opt_out.add_argument("emails", nargs="+", metavar="EMAIL_OR_FILE",
                         help="emails, or files of them (CSV, .xlsx, JSON, one per line)")
    opt_out.set_defaults(run=_suppress)
    held = commands.add_parser("export-person", help="everything held about one email, as JSON (admins)")
    held.add_argument("email")
    held.set_defaults(run=_export_person)
    retain = commands.add_parser("sweep", help="delete the personal data past its retention period (run daily)")
    retain.add_argument("--json", action="store_true")
    retain.set_defaults(run=_sweep)


def _erase(args) -> int:
    done = importing.connect().erase_person(args.email, local_actor())
    if args.json:
        print(json.dumps(done.as_dict()))
        return 0
    print(f"erased: {plural(done.contacts, 'contact')}, {plural(done.links, 'import link')}, "
          f"{plural(done.rejected_rows, 'rejected row')}, {plural(done.drafts, 'unfinished import')}, "
          f"{plural(done.answers, 'recorded API answer')} cut; the email is suppressed "
          f"(audit trail: email hash {done.email_hash[:16]})")
    return 0


def _suppress(args) -> int:
    service, added, refused = importing.connect(), 0, []
    for item in args.emails:
        path = Path(item)
        if path.is_file():
            new, bad = service.suppress_file(path.read_bytes(), path.name, local_actor())
        else:
            new, bad = service.suppress_emails([item], local_actor(), "command line")
        added, refused = added + new, refused + bad
    print(f"{plural(added, 'email')} added to the suppression list")
    for value in refused:
        print(f"  left out, not an email: {value!r}")
    return 0


def _sweep(args) -> int:
    service = importing.connect()
    swept = {**service.sweep_retention(), "drafts": service.expire_drafts()}
    if args.json:
        print(json.dumps(swept))
        return 0
    print(f"swept: rejected rows' values of {plural(swept['rejected_imports'], 'import')}, replaced values of "
          f"{plural(swept['previous_imports'], 'import')} ({plural(swept['previous_links'], 'contact')}), "
          f"{plural(swept['drafts'], 'draft')}")
    return 0


def _export_person(args) -> int:
    print(json.dumps(importing.connect().export_person(args.email, local_actor()), ensure_ascii=False, indent=2))
    return 0


def _api_key_commands(commands) -> None:
    keys = commands.add_parser("api-keys", help="keys for the HTTP API: create, list, revoke")
    actions = keys.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key; it is printed once, never again")
    create.add_argument("name", help="who or what uses it, e.g. 'HubSpot sync'")
    create.add_argument("--role", choices=["importer", "admin"], default="importer",
                        help="what the key may do: importer (the default) or admin (also undo)")
    create.add_argument("--json", action="store_true")
    create.set_defaults(run=_create_key)
    listing = actions.add_parser("list", help="the keys, with when each was last used")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_list_keys)
    revoke = actions.add_parser("revoke", help="stop a key from working, at once")
    revoke.add_argument("name")
    revoke.set_defaults(run=_revoke_key)


def _migrate(args) -> int:
    """As CONTACT_IMPORT_OWNER_URL's role (else DATABASE_URL's, else the embedded superuser): the
    serving process connects as the application's role, which may not change the schema."""
    applied = importing.migrate_as_owner()
    print(f"applied {', '.join(applied)}" if applied else "the schema is up to date")
    return 0


def _create_key(args) -> int:
    key = importing.connect().create_key(args.name, local_actor(), args.role)
    print(json.dumps({"name": args.name.strip(), "role": args.role, "key": key}) if args.json else
          f"{key}\nThe {args.role} key of {args.name.strip()!r}: keep it now, it is not shown again.")
    return 0


def _list_keys(args) -> int:
    import pandas as pd


    keys = importing.connect().list_keys(local_actor())
    if _printed_as_json(keys, args):
        return 0
    for row in keys.itertuples(index=False):
        state = "active" if pd.isna(row.revoked_at) else "revoked"
        used = "never used" if pd.isna(row.last_used_at) else f"last used {row.last_used_at:%Y-%m-%d %H:%M}"
        print(f"{row.name:<30} {row.role:<8} {state:<8} created {row.created_at:%Y-%m-%d}, {used}")
    return 0


def _printed_as_json(frame, args) -> bool:
    """With --json, the rows as one JSON array (times in ISO 8601); whether it printed them."""
    if args.json:
        print(frame.to_json(orient="records", date_format="iso"))
    return args.json


def _revoke_key(args) -> int:
    importing.connect().revoke_key(args.name, local_actor())
    print(f"revoked {args.name!r}")
    return 0


def _read_options(parser: argparse.ArgumentParser) -> None:
    """Overrides of what the reader detects (issue 5)."""
    parser.add_argument("--encoding", help="text encoding, e.g. utf-8, cp1252, utf-16")
    parser.add_argument("--delimiter", help="one character, or comma, semicolon, tab, pipe")
    parser.add_argument("--header-row", type=int, help="spreadsheet row that holds the column names")
    parser.add_argument("--sheet", help="the sheet of an .xlsx workbook to read")
    parser.add_argument("--max-rows", type=int, help="refuse files with more contact rows")
    parser.add_argument("--max-bytes", type=int, help="refuse larger files")
    parser.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                        help="import this column as this field, over the suggested mapping "
                             "(full_name may join columns: full_name='First Name+Last Name'); repeatable")
    parser.add_argument("--extra", action="append", default=[], metavar="COLUMN[=KEY]",
                        help="keep this column in each contact's metadata, under KEY (by default the "
                             "header in snake case: 'Job Title' -> job_title); repeatable")
    parser.add_argument("--apply-fixes", nargs="?", const="all", metavar="KIND,...",
                        help="make the safe one-click fixes that validate lists (all of them, or these kinds: "
                             + ", ".join(importing.FIX_KINDS) + ")")


def _choices(args) -> dict[str, list[str]]:
    choices = {}
    for item in args.map:
        field, equals, columns = item.partition("=")
        if not equals or field.strip() not in FIELDS:
            raise ImportConsoleError(f"--map {item!r}: expected FIELD=COLUMN with FIELD one of {', '.join(FIELDS)}.")
        choices[field.strip()] = columns.split("+") if field.strip() == "full_name" else [columns]
    return choices


def _extras(args) -> dict[str, str]:
    """--extra COLUMN[=KEY]: the columns to keep in metadata, each with its key."""
    return {column: key.strip() or extra_key(column) for column, _, key in (item.partition("=") for item in args.extra)}


def _read_kwargs(args) -> dict:
    names = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
    options = {"encoding": args.encoding, "header_row": args.header_row, "sheet": args.sheet,
               "max_rows": args.max_rows, "max_bytes": args.max_bytes,
               "delimiter": names.get(args.delimiter, args.delimiter),
               "fixes": args.apply_fixes and [kind.strip() for kind in args.apply_fixes.split(",")]}
    return {k: v for k, v in options.items() if v is not None}


def _validate(args) -> int:
    draft = importing.open_file(None, args.file, **_read_kwargs(args))
    importing.choose_columns(draft, _choices(args))
    importing.keep_columns(draft, _extras(args))
    report = importing.validate_draft(draft)
    summary = {
        "file": str(args.file), "rows": report.rows, "valid": len(report.valid),
        "invalid": report.invalid, "duplicates": len(report.duplicates),
        "mapping": describe_mapping(draft.mapping),
        "suggested_from_values": {f: why for f, why in draft.suggested_from_values.items()
                                  if draft.mapping.get(f) and f not in _choices(args)},
        "errors": [{"row": int(e.row), "column": e.column, "reason": e.reason, "value": e.value}
                   for e in report.errors.itertuples(index=False)],
        "possible_duplicates": _same_person(importing.possible_duplicates(draft)),
        "fixes": [offer.as_dict() for offer in report.fixes],
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"{summary['file']}: {summary['rows']} rows, {summary['valid']} to import, "
          f"{summary['invalid']} invalid, {summary['duplicates']} duplicate emails")
    for field, column in summary["mapping"].items():
        why = summary["suggested_from_values"].get(field)
        print(f"  {field:<17} <- {column}" + (f"  ({why})" if why else ""))
    for error in summary["errors"]:
        print(f"  row {error['row']}, {error['column']}: {error['reason']} ({error['value']!r})")
    _print_same_person(summary["possible_duplicates"])
    _print_fixes(summary["fixes"])
    return 0


def _print_fixes(fixes: list[dict]) -> None:
    for fix in fixes:
        shown = "; ".join(f"row {e['row']}: {e['before']!r} -> {e['after']!r}" for e in fix["examples"])
        made = f"made on {plural(fix['applied'], 'row')}" if fix["applied"] else "not made (--apply-fixes makes it)"
        print(f"  fix {fix['kind']}: {fix['label']}, {plural(fix['rows'], 'row')}, {made}; e.g. {shown}")


def _same_person(found) -> list[dict]:
    return [{"row": int(r.row), "email": r.email, "same_as_email": r.same_as_email, "same_as": r.same_as}
            for r in found.itertuples(index=False)]


def _print_same_person(found: list[dict]) -> None:
    for item in found:
        print(f"  row {item['row']}: {item['email']} may be the same person as {item['same_as_email']} "
              f"({item['same_as']}, the same LinkedIn profile)")


def _import(args) -> int:
    if args.dry_run:
        return _dry_run(args, importing.connect())
    warnings: list[str] = []
    result = importing.connect().import_file(args.file, None, args.source, args.campaign,
                                   warnings=warnings, choices=_choices(args), extras=_extras(args),
                                   actor=local_actor(),
                                   mode=args.mode, rules=dict(args.rule), guard=_guard(args), **_read_kwargs(args))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(f"import {result.import_id} {result.status}: {result.inserted} inserted, "
              f"{result.updated} updated, {result.unchanged} unchanged, {result.invalid} invalid, "
              f"{result.duplicates} duplicates{_left_out(result.already_there, result.not_found, result.suppressed)}, "
              f"total_rows {result.total_rows}"
              + "".join(f"; fixed {kind} on {plural(rows, 'row')}" for kind, rows in result.fixes.items()))
    return 0


def _guard(args) -> importing.ChangeGuard | None:
    return importing.guard_for("cli", importing.parse_confirmation(args.confirm_changes),
                               "Run it again with --confirm-changes N, N the number above, or --confirm-changes any.")


def _rule(text: str) -> tuple[str, str]:
    """--rule FIELD=RULE."""
    field_name, equals, rule = text.partition("=")
    if not equals or field_name.strip() not in importing.RULED_FIELDS or rule.strip() not in importing.RULES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write FIELD=RULE, FIELD one of {', '.join(importing.RULED_FIELDS)}, "
            f"RULE one of {', '.join(importing.RULES)}")
    return field_name.strip(), rule.strip()


def _left_out(already_there: int, not_found: int, suppressed: int = 0) -> str:
    """The counts of rows an import's mode or the suppression list left out, when it left any."""
    return "".join(f", {count} {name}" for count, name in ((already_there, "already there"), (not_found, "not found"),
                                                         (suppressed, "suppressed")) if count)


def _dry_run(args, service: importing.Service) -> int:
    draft, review = service.dry_run(args.file, choices=_choices(args), extras=_extras(args), mode=args.mode,
                                    rules=dict(args.rule),
                                    **_read_kwargs(args))
    report = draft.report
    summary = {**review.as_dict(), "invalid": report.invalid, "duplicates": len(report.duplicates),
               "suppressed": report.suppressed,
               "possible_duplicates": _same_person(importing.possible_duplicates(draft))}
    summary = {k: summary[k] for k in ("would_insert", "would_update", "unchanged", "already_there", "not_found",
                                       "invalid", "duplicates", "suppressed", "changes", "possible_duplicates")}
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"dry run of {args.file.name}, nothing written: {summary['would_insert']} would be inserted, "
          f"{summary['would_update']} updated, {summary['unchanged']} unchanged, "
          f"{summary['invalid']} invalid, {summary['duplicates']} duplicates"
          f"{_left_out(summary['already_there'], summary['not_found'], summary['suppressed'])}")
    for field, contacts in summary["changes"].items():
        print(f"  {field:<17} changes on {contacts} contacts")
    _print_same_person(summary["possible_duplicates"])
    return 0


def _errors(args) -> int:
    """The file History downloads: fix it in a spreadsheet and import it again."""
    service = importing.connect()
    service.check_role(local_actor(), "view history")
    _, data = service.import_error_csv(args.import_id)
    sys.stdout.buffer.write(data)
    return 0


def _imports(args) -> int:
    service = importing.connect()
    service.check_role(local_actor(), "view history")
    history = service.list_imports()
    if _printed_as_json(history, args):
        return 0
    if history.empty:
        print("no imports yet")
    for row in history.itertuples(index=False):
        print(f"{row.created_at:%Y-%m-%d %H:%M} {row.status:<10} {row.source:<15} "
              f"{row.file_name or '':<30} {row.total_rows:>8} rows  {row.id}")
    return 0


def _undo(args) -> int:
    result = importing.connect().undo(args.import_id, local_actor())
    conflicts = result.conflicts.to_dict("records")
    if args.json:
        print(json.dumps({"import_id": result.import_id, "deleted": result.deleted,
                          "restored": result.restored, "conflicts": conflicts}))
        return 0
    print(f"import {result.import_id} reverted: {result.deleted} contacts deleted, {result.restored} restored")
    for conflict in conflicts:
        print(f"  kept {conflict['email']} {conflict['field']}: {conflict['reason']}")
    return 0


def _audit(args) -> int:
    rows, _ = importing.connect().read_audit(local_actor(), args.import_id, limit=None)
    if args.csv:
        sys.stdout.buffer.write(importing.to_export_csv(rows, bom=False))
        return 0
    if _printed_as_json(rows, args):
        return 0
    for row in rows.itertuples(index=False):
        what = " ".join(str(v) for v in (row.import_id, row.campaign, row.subject, row.detail) if v)
        print(f"{row.at:%Y-%m-%d %H:%M:%S} {row.actor:<30} {row.role or '-':<8} {row.via:<7} {row.action:<16} {what}")
    return 0
