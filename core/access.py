"""Who may do what (issue 13). Every entry point turns its caller into an Actor (the console's
signed-in user, the CLI's user, an API key or token), and the service checks the Actor's role
before it changes anything, so the console, the CLI and the HTTP API enforce the same rules.

Roles are configured in .streamlit/secrets.toml, as emails, or "@domain" for everyone at a domain:

    [roles]
    admin = ["ana@example.com"]
    importer = ["@example.com", "contractor@gmail.com"]

Everyone with a role may sign in (the allow-list); an admin may do all an importer may. Without a
[roles] table the console is a single user's tool on a local address, and that user (the CLI's too)
is an admin; an API token without a role claim is then an importer.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.embedded import PROJECT_ROOT
from core.errors import ImportConsoleError
from core.records import current_user

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
    "read audit": (ADMIN, "Reading the audit trail"),
}


@dataclass(frozen=True)
class Actor:
    name: str          # the signed-in email, the API key's name, the token's subject, the CLI's user
    role: str | None   # None: no role, so nothing is allowed
    via: str = "service"


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


def secrets_path() -> Path:
    return Path(os.environ.get("CONTACT_IMPORT_SECRETS") or PROJECT_ROOT / ".streamlit" / "secrets.toml")


def load_secrets() -> dict:
    """The console's secrets file, for the CLI and the HTTP API (the console reads st.secrets)."""
    path = secrets_path()
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as error:
        # the parser's message says where, never what the file holds
        raise ImportConsoleError(f"{path.name} cannot be read: {error}.") from None


def local_actor(via: str = "cli") -> Actor:
    """Whoever runs the CLI or a script on this machine: CONTACT_IMPORT_USER or the OS user, with
    the role [roles] gives them."""
    name = current_user()
    return Actor(name, policy_from(load_secrets()).role_of(name), via)
