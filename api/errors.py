"""How the API answers the core's refusals: one table, used by the app's exception handler and by
jobs (api.contacts), whose final answer is the one the request would have had."""
from __future__ import annotations

from fastapi import HTTPException

from core.access import AccessRefused
from core.errors import (CampaignNotFound, ClaimLost, CommitFailed, ImportClosed, ImportConsoleError, ImportNotFound,
                         JobNotFound, KeyInProgress, KeyReused, LargeChange, NotTheOwner, StatusChangeRefused,
                         TotalRowsMismatch, UndoFailed)

STATUS_OF = (  # the first class an error is an instance of decides
    ((ImportNotFound, CampaignNotFound, JobNotFound), 404),
    ((StatusChangeRefused, ImportClosed, TotalRowsMismatch, ClaimLost, KeyInProgress, LargeChange), 409),
    ((KeyReused,), 422),
    ((AccessRefused, NotTheOwner), 403),
    ((CommitFailed, UndoFailed), 500),  # rolled back whole; the message says why
    ((ImportConsoleError,), 400),
)


def answer_to(error: ImportConsoleError | HTTPException) -> tuple[int, dict, dict]:
    """(status code, body, headers) of the answer to a refusal."""
    if isinstance(error, HTTPException):
        return error.status_code, {"detail": error.detail}, dict(error.headers or {})
    status = next(code for kinds, code in STATUS_OF if isinstance(error, kinds))
    detail = f"Bulk operation failed: {error.reason}" if isinstance(error, CommitFailed) else str(error)
    body = {"detail": detail}
    if isinstance(error, LargeChange):  # the counts a client repeats in confirm_changes
        body.update(changed=error.changed, stored=error.stored)
    return status, body, {"Retry-After": "1"} if isinstance(error, KeyInProgress) else {}
