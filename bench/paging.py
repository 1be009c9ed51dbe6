"""python -m bench.paging [CONTACTS] [--linked N] [--citus]: the API's lists at any depth (issue 21,
point 4).

In a throw-away database it stores CONTACTS contacts (default 4M; SQL-generated, time-ordered ids
like the commit's), links --linked of them (default 1M) to one import, and makes 10,000 imports.
Then it asks the HTTP API (FastAPI's TestClient, in process) for pages of 100 at several depths:
through a cursor (the key of the row before the page, as the page before would hand it over), and,
for comparison, the query the API sent before, with its order and OFFSET (as SQL: the API now
refuses an offset past 10,000). Prints the median of --repeat calls per cell.

Server: DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), or with --citus
CITUS_URL (default the coordinator of `./dev citus`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import sqlalchemy as sa

from bench.__main__ import DEFAULT_URL
from bench.citus import CITUS_URL

FILL = """
INSERT INTO contacts (id, email, full_name, linkedin_profile, company, metadata)
SELECT import_contact_id(lpad(to_hex(1700000000000 + n / 100000), 12, '0') || '7abc12345678', n),
       'person' || n || '@example.com', 'Person ' || n, 'https://linkedin.com/in/p' || n,
       CASE WHEN n % 3 = 0 THEN 'Acme' END, CASE WHEN n % 2 = 0 THEN '{"tier": 1}'::jsonb ELSE '{}' END
FROM generate_series(:first, :last) n
"""
LINK = """
INSERT INTO import_contacts (import_id, email, contact_id, action, row_number)
SELECT :import, email, id, 'inserted', row_number() OVER () FROM contacts WHERE email < :bound
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paging", description=__doc__.splitlines()[0])
    parser.add_argument("contacts", nargs="?", type=int, default=4_000_000)
    parser.add_argument("--linked", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--citus", action="store_true")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from core.storage.database import make_engine, scratch_database

    server = (os.environ.get("CITUS_URL") or CITUS_URL) if args.citus else (os.environ.get("DATABASE_URL") or DEFAULT_URL)
    with scratch_database(server, f"contact_import_bench_paging_{os.getpid()}") as url:
        engine = make_engine(url)
        import_id = _fill(engine, args.contacts, args.linked)
        rows = _measure(engine, import_id, args)
        engine.dispose()
    print(f"{'list':<22}{'depth':>12}{'cursor ms':>12}{'offset ms':>12}")
    for name, depth, cursor_ms, offset_ms in rows:
        print(f"{name:<22}{depth:>12,}{cursor_ms:>12.1f}{offset_ms:>12.1f}")
    print(f"{args.contacts:,} contacts, {args.linked:,} linked to one import, 10,000 imports; pages of 100; "
          f"medians of {args.repeat} calls; server: {'Citus' if args.citus else 'PostgreSQL'}")
    return 0


def _fill(engine, contacts: int, linked: int) -> str:
    started = time.perf_counter()
    with engine.begin() as conn:
        for first in range(0, contacts, 500_000):
            conn.execute(sa.text(FILL), {"first": first, "last": min(first + 500_000, contacts) - 1})
        conn.execute(sa.text("INSERT INTO imports (source, created_at) SELECT 'bench', now() - n * interval '1 s' "
                             "FROM generate_series(1, 10000) n"))
        import_id = conn.execute(sa.text("SELECT id FROM imports ORDER BY created_at DESC LIMIT 1")).scalar_one()
        bound = conn.execute(sa.text("SELECT email FROM contacts ORDER BY email OFFSET :n LIMIT 1"),
                             {"n": linked}).scalar()
        conn.execute(sa.text(LINK), {"import": import_id, "bound": bound or "~"})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    print(f"# filled in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return str(import_id)


def _measure(engine, import_id: str, args) -> list[tuple]:
    from fastapi.testclient import TestClient

    from api import api, deps, paging
    from core.access import Actor
    from core.access.keys import create_key
    from core.importing import Service
    from core.storage.history import CONTACT_SELECT, IMPORT_SELECT

    api.dependency_overrides[deps.service] = lambda: Service(engine)
    key = {"X-API-Key": create_key(engine, "bench", Actor("bench@example.com", "admin", "service"), "admin")}
    one_import = f"l.import_id = '{import_id}'"
    lists = {  # name: (query params, the key's SQL at a depth, cursor kind, how deep it goes, the query of before)
        "all contacts": ({}, "SELECT id::text FROM contacts ORDER BY id DESC", "contacts", args.contacts,
                         f"{CONTACT_SELECT} ORDER BY c.created_at DESC, c.id"),
        "one import's contacts": ({"import_id": import_id}, "SELECT email FROM import_contacts l WHERE "
                                  f"{one_import} ORDER BY email", "import contacts", args.linked,
                                  f"{CONTACT_SELECT} JOIN import_contacts l ON l.email = c.email AND "
                                  f"l.contact_id = c.id WHERE {one_import} ORDER BY l.row_number"),
        "imports": ({}, "SELECT created_at, id FROM imports ORDER BY created_at DESC, id DESC", "imports", 10_000,
                    f"{IMPORT_SELECT} ORDER BY i.created_at DESC, i.id"),
    }
    rows = []
    with TestClient(api) as client:
        for name, (params, keys, kind, size, before) in lists.items():
            path = "/imports" if kind == "imports" else "/contacts"
            for depth in (0, size // 2, size - 100):
                cursor = None
                if depth:
                    with engine.connect() as conn:
                        key_row = conn.execute(sa.text(f"{keys} OFFSET {depth - 1} LIMIT 1")).one()
                    parts = (key_row[0].isoformat(), key_row[1]) if kind == "imports" else (key_row[0],)
                    cursor = paging.encode_cursor(kind, *parts)
                query = {**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
                cursor_ms = _median_ms(lambda: _ok(client.get(path, params=query, headers=key)), args.repeat)
                offset_ms = _median_ms(lambda: _by_offset(engine, before, depth), max(3, args.repeat // 5))
                rows.append((name, depth, cursor_ms, offset_ms))
    api.dependency_overrides.clear()
    return rows


def _ok(answer) -> None:
    assert answer.status_code == 200 and len(answer.json()["items"]) == 100, answer.text[:300]


def _by_offset(engine, keys: str, depth: int) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text(f"{keys} OFFSET {depth} LIMIT 100")).all()


def _median_ms(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
