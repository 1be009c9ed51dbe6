"""The console's import wizard as one object: the steps of an unfinished import (details, upload,
map, review, commit, done), the draft it holds and the token that names the draft in a link. Which
step comes next, whether the draft may go on, what a reopened link leads to and what "Commit now"
does are decided here, once, for every console server; the page keeps a Wizard in its browser
session, renders its step and calls these moves. Nothing here knows Streamlit.

    wizard = Wizard()
    wizard.choose_origin("HubSpot", campaign=None)         # -> upload
    wizard.open_file(service, data, "people.csv", actor)   # -> map
    wizard.confirm_mapping(service, mapping)              # -> review
    wizard.to_commit(service)                             # -> commit, or stays to show fixes validated
    wizard.commit(service)                                # "started" | "taken" | "stale"
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.access import Actor
from core.importing.drafts import Committed, new_token, settle
from core.importing.jobs import CommitJob, job_of
from core.importing.service import Draft, choose_fixes, hold_edits, keep_skipped_rows, skip_rows, validate_draft
from core.progress import Progress

STEPS = ("details", "upload", "map", "review", "commit", "done")
ENDED = ("completed", "reverted")  # a draft whose import reached these was committed


@dataclass(frozen=True)
class CommitState:
    """What the commit step has to show: "ready" (error: the last attempt's, from this tab),
    "running" here (job), "elsewhere" (another tab or server commits it), "committed" (already,
    from anywhere) or "done" (this tab's commit finished: the wizard went on)."""

    kind: str
    job: CommitJob | None = None
    error: str | None = None


@dataclass
class Wizard:
    step: str = "details"
    source: str | None = None
    campaign: str | None = None
    mode: str = "upsert"                  # what the import may do (core.storage.records.MODES)
    draft: Draft | None = None
    token: str | None = None              # names the draft in the link and in the database
    committed: Committed | None = None    # what a committed draft's link led to
    gone: bool = False                    # the link's draft is no longer kept
    stale_review: bool = False            # "Commit now" found the review outdated
    fixes_applied: int = 0                # "Next: commit" validated this many rows' fixes first
    saved: str | None = field(default=None, repr=False)  # the draft as last kept in the database

    def go(self, step: str) -> None:
        if step not in STEPS:
            raise ValueError(f"no step {step!r} in the import wizard")
        self.fixes_applied = 0
        self.step = step

    # --- the draft it holds ------------------------------------------------------------------

    def take(self, service, draft: Draft, token: str | None = None) -> None:
        """Hold draft: a new one (a new token; the draft held before is discarded) or, with its
        token, one resumed from the database (the one held before is only let go here)."""
        if token is None:
            self.discard(service)
        elif self.draft is not None and self.draft is not draft:
            self.draft.release()
        self.draft, self.token, self.saved = draft, token or new_token(), None

    def discard(self, service) -> Draft | None:
        """Forget the draft held, here and in the database (a new file, a fresh start); returns it."""
        draft, token = self.draft, self.token
        self.draft = self.token = self.saved = None
        if token is not None:
            service.delete_draft(token)
        if draft is not None:
            draft.release()
        return draft

    def save(self, service) -> None:
        """Keep the draft in the database as it stands (written only when it changed): any tab or
        console server can go on with it. A committed draft is never written again."""
        draft = self.draft
        if draft is None or self.token is None or draft.released or draft.result is not None:
            return
        state = {"step": self.step, "source": self.source, "campaign": self.campaign, "mode": self.mode}
        self.saved = service.save_draft(self.token, draft, state, self.saved, background=True)

    def started_over(self, service, keep: tuple[str, ...] = (), step: str = "details") -> Wizard:
        """A new wizard keeping these of this one's choices (its source, campaign, mode); this one's
        draft discarded."""
        self.discard(service)
        return Wizard(step=step, **{name: getattr(self, name) for name in keep})

    # --- opening a link ------------------------------------------------------------------------

    def to_load(self, token_in_link: str | None) -> str | None:
        """The token of the draft to load before the wizard is shown: the link's, when it names
        another draft (a refresh, another tab, a link), or this wizard's own, when its rows were
        let go while the page was away."""
        if token_in_link and token_in_link != self.token:
            return token_in_link
        if self.draft is not None and self.draft.released and self.draft.result is None and self.token:
            return self.token
        return None

    def resumed(self, service, token: str, actor: Actor) -> Wizard:
        """The wizard of the draft kept under token, at its step; at the first step saying so when
        the draft became an import (committed) or is no longer kept (gone). This wizard's draft is
        let go here, kept in the database. Raises what load_draft raises (unreadable, another
        user's draft)."""
        loaded = service.load_draft(token, actor)
        if self.draft is not None:
            self.draft.release()
        if isinstance(loaded, Committed):
            return Wizard(token=token, committed=loaded)
        if loaded is None:
            return Wizard(gone=True)
        draft, state = loaded
        return Wizard(step=state.get("step") or "map", source=state.get("source"), campaign=state.get("campaign"),
                      mode=draft.mode, draft=draft, token=token)

    def opened_by(self, actor: Actor) -> None:
        """Whoever goes on with the draft is who its import and the audit trail name; a commit that
        finished while the page was away shows as done."""
        if self.draft is None:
            return
        self.draft.actor = actor
        if self.draft.result is not None and self.step == "commit":
            self.go("done")

    # --- the steps -----------------------------------------------------------------------------

    def choose_origin(self, source: str, campaign: str | None, mode: str = "upsert") -> None:
        self.committed = None
        self.source, self.campaign, self.mode = source, campaign, mode
        self.go("upload")

    def open_file(self, service, data: bytes, file_name: str, actor: Actor, on_progress: Progress | None = None) -> None:
        """A new draft of this file (raises what reading it raises, and stays on the upload);
        on_progress hears a large file's wait for its turn (core.importing.admission)."""
        draft = service.open_file(data, file_name, source=self.source, campaign=self.campaign, actor=actor,
                                  on_progress=on_progress, mode=self.mode)
        self.take(service, draft)
        self.go("map")

    def retry(self, service, draft: Draft) -> None:
        """Go on with a failed import's retry, at its mapping."""
        self.take(service, draft)
        self.go("map")

    def reread(self, service, **read_options) -> None:
        service.reread(self.draft, **read_options)

    def confirm_mapping(self, service, mapping: dict, on_progress: Progress | None = None,
                        rules: dict[str, str] | None = None, extras: dict[str, str] | None = None) -> None:
        service.confirm_mapping(self.draft, mapping, rules, extras)
        self.revalidate(service, on_progress)
        self.go("review")

    def revalidate(self, service, on_progress: Progress | None = None) -> None:
        """Validate (with the fixes the grid holds) and review again."""
        self.fixes_applied = 0
        validate_draft(self.draft, on_progress)
        service.review(self.draft, on_progress)

    def hold_edits(self, service, edited) -> None:
        """The fix grid's edits belong to the draft, in the database too, the moment they are made."""
        hold_edits(self.draft, edited)
        self.save(service)

    def skip(self, service, rows: list[int]) -> None:
        skip_rows(self.draft, rows)
        service.review(self.draft)

    def choose_fixes(self, service, kinds, on_progress: Progress | None = None) -> None:
        """Make the one-click fixes ticked, undo the others, and review again."""
        choose_fixes(self.draft, kinds, on_progress)
        service.review(self.draft, on_progress)

    def keep_skipped(self, service) -> None:
        keep_skipped_rows(self.draft)
        service.review(self.draft)

    def to_commit(self, service, on_progress: Progress | None = None) -> bool:
        """"Next: commit". False when the grid held fixes not validated yet: they are validated now
        and the wizard stays on the review, which says so (fixes_applied), for a look at what they
        changed before committing."""
        self.stale_review = False
        if self.draft.pending is not None:
            held = len(self.draft.pending)
            self.revalidate(service, on_progress)
            self.fixes_applied = held
            return False
        self.go("commit")
        return True

    def back(self) -> None:
        self.go(STEPS[max(STEPS.index(self.step) - 1, 0)])

    # --- the commit ------------------------------------------------------------------------------

    def commit_state(self, service) -> CommitState:
        draft = self.draft
        # The status first, then this tab's job: the job's commit is in the database a moment
        # before its thread ends, and a run in that moment took it for another tab's.
        status = service.recorded_status(draft)
        job = job_of(draft.import_id)
        ours = job is not None and job.started_by(draft)
        if ours and not job.running and job.result is not None:
            draft.result = job.result
            self.go("done")
            return CommitState("done")
        if ours and job.running:
            return CommitState("running", job)
        if status in ENDED:  # from another tab, link, server or retry
            return CommitState("committed")
        if status == "processing":
            return CommitState("elsewhere")
        return CommitState("ready", error=job.error if ours else None)

    def commit(self, service) -> str:
        """"Commit now", in the background: "started"; "taken" when another tab or server has
        committed the draft or is committing it (nothing started here; the database would refuse
        a second commit anyway); "stale" when other imports changed what the review said (back to
        the review, which says so)."""
        settle(self.token)  # the draft's row is in the database before its commit marks it committed
        if service.recorded_status(self.draft) in (*ENDED, "processing"):
            return "taken"
        if not service.review_is_current(self.draft):
            self.go("review")
            self.stale_review = True
            return "stale"
        service.start_commit(self.draft)
        return "started"

    def attach(self, service, campaign: str) -> None:
        service.attach(self.draft, campaign)
