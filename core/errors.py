"""Domain errors. Each carries a message written for the person doing the import."""


def plural(count: int, word: str) -> str:
    """'1 row', '2 rows', '1,000 lines': the count and its noun, agreed.

    >>> plural(1, "row"), plural(1000, "line")
    ('1 row', '1,000 lines')
    """
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class ImportConsoleError(Exception):
    """Base of every error whose message can be shown to the user as it is."""


class UnreadableFile(ImportConsoleError):
    def __init__(self, file_name: str, reason: str, hint: str = ""):
        self.file_name = file_name
        self.reason = reason
        self.hint = hint
        message = f"{file_name}: {reason}"
        super().__init__(f"{message} {hint}".strip())


class MappingIncomplete(ImportConsoleError):
    def __init__(self, missing: list[str], file_name: str | None = None):
        self.missing = missing
        fields = ", ".join(missing)
        where = f"{file_name}: " if file_name else ""
        noun = "field" if len(missing) == 1 else "fields"
        super().__init__(f"{where}No column is mapped to the required {noun}: {fields}. "
                         "Pick the source column for each before going on.")


class AmbiguousColumns(ImportConsoleError):
    """Columns of one name that disagree feed a field, and nobody said which one to import."""

    def __init__(self, file_name: str, problems: list[str], example: str):
        self.example = example  # a choice that would settle it, as FIELD=COLUMN
        super().__init__(f"{file_name}: " + " ".join(problems))


class ImportClosed(ImportConsoleError):
    """Contacts added to an import that is no longer in `processing`."""

    def __init__(self, import_id, status: str):
        self.import_id, self.status = import_id, status
        super().__init__(f"Import {import_id} is {status}: contacts can only be added to an import "
                         "in processing. Create a new import.")


class TotalRowsMismatch(ImportConsoleError):
    def __init__(self, import_id, given: int, linked: int):
        self.given, self.linked = given, linked
        super().__init__(f"Import {import_id}: total_rows {given} is not the number of contacts linked "
                         f"to it, {linked}; nothing was changed.")


class RowsInvalid(ImportConsoleError):
    """A batch with invalid rows, refused whole (nothing written)."""

    def __init__(self, file_name: str, errors, fixes=()):
        self.errors = errors  # row, column, reason, value
        self.fixes = list(fixes)  # the one-click fixes offered (core.rows.quick_fixes.FixOffer)
        rows = errors["row"].nunique()
        fixable = sum(fix.rows for fix in self.fixes if not fix.applied)
        super().__init__(f"{file_name}: {plural(rows, 'row')} {'is' if rows == 1 else 'are'} invalid; nothing was written. Fix them, or "
                         "send on_invalid=skip to write the valid rows and keep the errors with the import."
                         + (" Some can be fixed safely: see fixes, and send apply_fixes=true to make them." if fixable else ""))


class ImportNotFound(ImportConsoleError):
    def __init__(self, import_id):
        super().__init__(f"Import {import_id} does not exist.")


class CampaignNotFound(ImportConsoleError):
    def __init__(self, campaign):
        super().__init__(f"Campaign {campaign} does not exist.")


class StatusChangeRefused(ImportConsoleError):
    """A status change that the status machine (core.storage.records.TRANSITIONS) does not allow."""

    MESSAGES = {
        "completed": "Import {id} is {current}; it cannot be committed again. "
                     "Start a new import to load the file again.",
        "reverted": "Import {id} is {current}; only a completed import can be undone.",
        "failed": "Import {id} is {current}; it cannot be marked failed.",
        "processing": "Import {id} is {current}; it cannot go back to processing.",
    }

    def __init__(self, import_id, current: str, wanted: str):
        self.import_id, self.current, self.wanted = import_id, current, wanted
        super().__init__(self.MESSAGES[wanted].format(id=import_id, current=current))


class AlreadyCommitted(StatusChangeRefused):
    """A second commit of one draft or import (another tab, a link, a retry, a request): refused,
    nothing written; the first commit stands."""

    def __init__(self, import_id, current: str):
        ImportConsoleError.__init__(self, f"This import was committed already (it is {current} now), from "
                                          "another tab, link or request; nothing was written twice.")
        self.import_id, self.current, self.wanted = import_id, current, "completed"


class NotTheOwner(ImportConsoleError):
    """An API import acted on by someone other than the key or token that created it."""

    def __init__(self, import_id, owner: str, actor: str):
        self.import_id, self.owner = import_id, owner
        super().__init__(f"Import {import_id} belongs to {owner}, who created it; {actor} may not change it. "
                         "Only its owner or an admin may add contacts to it, complete it or undo it.")


class CommitFailed(ImportConsoleError):
    def __init__(self, import_id, reason: str):
        self.import_id = import_id
        self.reason = reason
        super().__init__(f"Import {import_id} failed and nothing of it was saved: {reason}")


class UndoFailed(ImportConsoleError):
    def __init__(self, import_id, reason: str):
        self.import_id = import_id
        self.reason = reason
        super().__init__(f"Undo of import {import_id} failed and changed nothing: {reason}")


class KeyReused(ImportConsoleError):
    """An Idempotency-Key sent again with another request."""

    def __init__(self, key: str):
        super().__init__(f"The Idempotency-Key {key!r} was used for another request (another body, route, "
                         "X-Import-ID or on_invalid) in the last 24 hours; send a new key for a new request.")


class KeyInProgress(ImportConsoleError):
    """An Idempotency-Key whose first request is still being answered."""

    def __init__(self, key: str):
        super().__init__(f"A request with the Idempotency-Key {key!r} is in progress; send this one again once "
                         "it is answered, and it will get the same answer.")


class ClaimLost(ImportConsoleError):
    """A request whose Idempotency-Key a retry took over while it ran (it seemed dead)."""

    def __init__(self, key: str):
        super().__init__(f"A retry took over the Idempotency-Key {key!r} while this request ran; nothing of this "
                         "one was saved, and the retry's answer stands.")


class SchemaBehind(ImportConsoleError):
    """The database's schema is older than the code, and this connection's role may not change it."""

    def __init__(self, pending: str):
        super().__init__(f"The database's schema is behind this version ({pending} not applied), and the "
                         "application's role may not change it. Run the migrations as the tables' owner: "
                         "CONTACT_IMPORT_OWNER_URL=postgresql://owner@host/db python -m core migrate (README, "
                         "\"Database\").")


class JobNotFound(ImportConsoleError):
    def __init__(self, job_id: str):
        super().__init__(f"No job {job_id} of yours: a job is kept 7 days, and only its caller (or an admin) "
                         "may read it.")


class LargeChange(ImportConsoleError):
    """An import that would change more stored contacts than the guard lets through unconfirmed
    (core.storage.guard); rolled back, nothing written. changed, stored: the counts it names."""

    def __init__(self, changed: int, stored: int, confirm_with: str):
        self.changed, self.stored = changed, stored
        share = changed / stored if stored else 1.0
        super().__init__(f"This import would change {plural(changed, 'stored contact')} of {stored:,} ({share:.0%}); "
                         f"nothing was written. {confirm_with}")
