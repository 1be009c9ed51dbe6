"""The progress callback that long verbs accept, so a page or the CLI can show progress while
core stays free of UI code."""
from __future__ import annotations

from typing import Callable

# on_progress(stage, done, total). Stages, in order: "validating", "preparing", "sorting" (a commit
# only), "staging", "upserting", "finishing" (done and total: the rejected rows), "completing",
# "done" (a review stops after "staging").
Progress = Callable[[str, int, int], None]


def ignore_progress(stage: str, done: int, total: int) -> None:
    """The on_progress of a caller that shows no progress."""
