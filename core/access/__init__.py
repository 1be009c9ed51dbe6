"""Who may do what (issue 13). Every entry point turns its caller into an Actor (the console's
signed-in user, the CLI's user, an API key or token), and the service checks the Actor's role
before it changes anything, so the console, the CLI and the HTTP API enforce the same rules.

Roles are configured in .streamlit/secrets.toml, as emails, or "@domain" for everyone at a domain:

    [roles]
    admin = ["ana@example.com"]
    importer = ["@example.com", "contractor@gmail.com"]

Everyone with a role may sign in (the allow-list); an admin may do all an importer may. Without a
[roles] table the console is a single user's tool on a local address, and that user (the CLI's too)
is an admin.

The console reads its secrets as Streamlit does (st.secrets); the HTTP API and the CLI read the
same files through load_secrets: CONTACT_IMPORT_SECRETS (the server sets it to Streamlit's
secrets.files, see server.py), else Streamlit's defaults.
"""
from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from core.errors import ImportConsoleError, ImportNotFound, NotTheOwner
from core.storage import audit_log
from core.storage.embedded import PROJECT_ROOT
from core.storage.records import current_user, import_owner, import_uuid

IMPORTER, ADMIN = "importer", "admin"
ROLES = (IMPORTER, ADMIN)  # each may do what the ones before it may
VIA = ("console", "cli", "api", "service")

# action -> (the role it needs, how a refusal names it)
ACTIONS = {
    "import": (IMPORTER, "Importing contacts"),
    "attach": (IMPORTER, "Attaching an import to a campaign"),
    "view history": (IMPORTER, "Seeing the import history"),
    "undo": (ADMIN, "Undoing an import"),
    "manage keys": (ADMIN, "Managing API keys"),
    "see all drafts": (ADMIN, "Opening another user's draft"),
    "act on any import": (ADMIN, "Acting on an import another key or token created"),
    "read audit": (ADMIN, "Reading the audit trail"),
    "erase": (ADMIN, "Erasing a person's data"),
    "suppress": (ADMIN, "Adding emails to the suppression list"),
    "export person": (ADMIN, "Exporting a person's data"),
}


@dataclass(frozen=True)
class Actor:
    name: str          # the signed-in email, the API key's name, the token's subject, the CLI's user
    role: str | None   # None: no role, so nothing is allowed
    via: str = "service"

    @property
    def caller(self) -> str:
        """Whose API request slots, Idempotency-Keys and jobs these are: the key's or token's."""
        return f"{self.via}:{self.name}"


class AccessRefused(ImportConsoleError):
    """An actor without the role an action needs. The message names the role."""

    def __init__(self, actor: Actor, action: str):
        self.actor, self.action = actor, action
        needed, said = ACTIONS[action]
        who = f"{actor.name} is {'an ' + actor.role if actor.role else 'not given any role'}"
        super().__init__(f"{said} needs the {needed} role; {who}. Ask an admin if you need it.")


def can(actor: Actor, action: str) -> bool:
    needed = ACTIONS[action][0]
    return actor.role in ROLES and ROLES.index(actor.role) >= ROLES.index(needed)


def require(actor: Actor, action: str) -> None:
    if not can(actor, action):
        raise AccessRefused(actor, action)


def check(engine: Engine, actor: Actor, action: str, import_id=None) -> None:
    """require, with a refusal written to the audit trail, for the admins to see who tried what.
    The service checks once per verb; storage never does."""
    if can(actor, action):
        return
    try:
        named = None if import_id is None else import_uuid(import_id)
    except ImportNotFound:
        named = None  # not an import id: the refusal is recorded without one
    audit_log.record_refusal(engine, actor, action, named)
    raise AccessRefused(actor, action)


def check_owner(engine: Engine, import_id, actor: Actor) -> None:
    """An import the HTTP API created is its creator's (the key's name, the token's subject): anyone
    else but an admin is refused, and the refusal recorded. Who created an import never changes,
    so this needs no lock."""
    owner, via = import_owner(engine, import_id)
    owner = owner or ""
    if via != "api" or owner.casefold() == actor.name.casefold() or can(actor, "act on any import"):
        return
    audit_log.record_refusal(engine, actor, "act on another's import", import_uuid(import_id))
    raise NotTheOwner(import_id, owner, actor.name)


@dataclass(frozen=True)
class Policy:
    """The [roles] table: role -> who has it (emails and "@domain"s)."""

    roles: Mapping[str, tuple[str, ...]]
    configured: bool

    def role_of(self, identity: str | None) -> str | None:
        """The highest role identity is given; without a [roles] table, admin (one local user)."""
        if not self.configured:
            return ADMIN
        for role in reversed(ROLES):
            if identity and any(_matches(identity, entry) for entry in self.roles.get(role, ())):
                return role
        return None


def _matches(identity: str, entry: str) -> bool:
    """ "@example.com" matches everyone at example.com; anything else one identity, in any case."""
    identity, entry = identity.strip().lower(), entry.strip().lower()
    if entry.startswith("@"):
        return identity.endswith(entry) and identity.count("@") == 1
    return identity == entry


def policy_from(secrets: Mapping | None) -> Policy:
    """The policy of a parsed secrets file (st.secrets in the console, the file elsewhere)."""
    table = (secrets or {}).get("roles")
    if table is None:
        return Policy({}, configured=False)
    unknown = sorted(set(table) - set(ROLES))
    if unknown:
        raise ImportConsoleError(f"[roles] in secrets.toml names {', '.join(unknown)}; the roles are "
                                 f"{' and '.join(ROLES)}.")
    roles = {}
    for role, who in table.items():
        if isinstance(who, str) or not all(isinstance(entry, str) for entry in who):
            raise ImportConsoleError(f"[roles] {role} in secrets.toml must be a list of emails or "
                                     '"@domain"s, e.g. ["ana@example.com", "@example.com"].')
        roles[role] = tuple(who)
    return Policy(roles, configured=True)


def secrets_paths() -> list[Path]:
    """The secrets files, later ones overriding earlier ones, as Streamlit's secrets.files lists
    them: CONTACT_IMPORT_SECRETS (paths separated by os.pathsep), else Streamlit's defaults."""
    listed = os.environ.get("CONTACT_IMPORT_SECRETS")
    if listed:
        return [Path(p) for p in listed.split(os.pathsep) if p]
    return [Path.home() / ".streamlit" / "secrets.toml", PROJECT_ROOT / ".streamlit" / "secrets.toml"]


def load_secrets() -> dict:
    """The console's secrets, for the CLI and the HTTP API (the console reads st.secrets)."""
    merged: dict = {}
    for path in secrets_paths():
        try:
            with path.open("rb") as file:
                merged.update(tomllib.load(file))
        except FileNotFoundError:
            continue
        except tomllib.TOMLDecodeError as error:
            # the parser's message says where, never what the file holds
            raise ImportConsoleError(f"{path} cannot be read: {error}.") from None
    return merged


def token_role(subject: str, claimed: str | None, policy: Policy) -> str | None:
    """A bearer token's role. With [roles], the role it gives the subject, lowered (never raised)
    by the token's contact_import_role claim; without, that claim, else importer."""
    claimed = claimed if claimed in ROLES else None
    if not policy.configured:
        return claimed or IMPORTER
    listed = policy.role_of(subject)
    if listed is None or claimed is None:
        return listed
    return min(listed, claimed, key=ROLES.index)


def is_local(bound_address: str | None, client_ip: str | None) -> bool:
    """Whether only this machine can reach a server: it listens on a loopback address, and the
    client is on this machine (Streamlit gives no client IP for localhost).

    >>> is_local("127.0.0.1", None), is_local("localhost", "::1"), is_local("[::1]", None)
    (True, True, True)
    >>> is_local(None, None), is_local("0.0.0.0", None), is_local("127.0.0.1", "192.0.2.7")
    (False, False, False)
    """
    return _loopback(bound_address) and (client_ip is None or _loopback(client_ip))


def _loopback(address: str | None) -> bool:
    if not address:
        return False  # Streamlit's default: every interface
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def local_actor(via: str = "cli") -> Actor:
    """Whoever runs the CLI or a script on this machine: CONTACT_IMPORT_USER or the OS user, with
    the role [roles] gives them."""
    name = current_user()
    return Actor(name, policy_from(load_secrets()).role_of(name), via)
