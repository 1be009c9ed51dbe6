"""python -m bench.console_speed [--rows N ...]: how fast the console's New import wizard is in a real browser.

Per size (and per run), on its own throw-away database and its own console server (`streamlit run
server.py`): first the CLI's dry run of the synthetic file (`python -m core import FILE --source
bench --dry-run`: read, validate, review, nothing written), timed around the subprocess; then
Debian's chromium, through Playwright, goes through the wizard with the same file and times:
  upload→mapping   set_input_files on the uploader until the mapping step is usable: "Map the
                   columns of" shown, "Next: review" enabled, and the script no longer running
  mapping change   the company field mapped to another column, then back: the slower of the two
                   reruns, from the pick until the script stopped
  review           "Next: review" until "Review before anything is written" shown, script stopped
  upload→review    upload→mapping + review (a user who changes no mapping)
  review/CLI       review s / CLI s (target at most 1.5)
  commit           on to the commit step, "Commit now" until "completed" shows on the page
  max progress gap the longest time during the commit in which the progress shown did not change:
                   the text and value of every progress bar ([data-testid="stProgress"]) and any
                   "N of M" count on the page, sampled in the page every 100 ms
Then, in Import history, the import's contacts are downloaded ("Prepare: download all contacts",
until the download is offered) and the import is undone (until "Undone:" shows). A second table
gives each wait (upload, review, commit, download, undo) with its first sign of work (a progress
bar other than the wizard's steps, a spinner, or the uploader's own while the file goes up) and
its longest progress gap, both from the user's action.
Each time runs from the user's action as the page saw it (the press, or the file input's change
event) until the condition held, both in the page's clock. "The script no longer running" is
Streamlit's own state, the `data-test-script-state` attribute of [data-testid="stApp"] at
"notRunning" (the frontend's ScriptRunState), and the status widget ([data-testid="stStatusWidget"],
the running man and "Stop", shown once a run has lasted 500 ms) gone or fading out. An observer in
the page logs every change of both, so a rerun is seen even when it is shorter than a poll. (With
`client.toolbarMode = "minimal"`, as in .streamlit/config.toml, Streamlit 1.67 draws no toolbar and
so no status widget at all: the script state is what tells.) -v prints where each step's time went.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import SHAPES, bench_file

OUT = Path(__file__).parent / "out"
PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
WAIT_S = 20 * 60
CHANGED_FIELD = "company"
SCREENSHOTS: Path | None = None  # --screenshots: where each run's screens go, taken outside the timed steps
TARGETS = ("targets: 1M rows: upload→mapping ≤ 10 s, mapping change ≤ 1 s, review ≤ 1.5× CLI, "
           "progress gap ≤ 2 s; 50k rows: upload→review ≤ 5 s")

# Logs, with Date.now() times, every change of the script's run state and of the status widget.
OBSERVE = """() => {
  if (window.__speed) return;
  const log = [];
  window.__speed = {log};
  let state, widget;
  const check = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const now = app ? app.getAttribute('data-test-script-state') : null;
    if (now !== state) { state = now; log.push([Date.now(), 'state', now]); }
    const w = document.querySelector('[data-testid="stStatusWidget"]');
    const shown = !!w && !String(w.className).includes('StatusWidget-exit');
    if (shown !== widget) { widget = shown; log.push([Date.now(), 'widget', shown]); }
  };
  for (const kind of ['pointerdown', 'change'])  // the user's action: a press, or a file chosen
    document.addEventListener(kind, () => log.push([Date.now(), 'action', kind]), true);
  new MutationObserver(check).observe(document.documentElement, {subtree: true, childList: true,
    attributes: true, attributeFilter: ['data-test-script-state', 'class']});
  check();
}"""

# Date.now() once a run started after log entry `since` and the script stopped, and `extra` holds.
SETTLED = """([since, extra]) => {
  const log = window.__speed.log;
  if (!log.slice(since).some(e => e[1] === 'state' && e[2] !== 'notRunning')) return false;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const w = document.querySelector('[data-testid="stStatusWidget"]');
  if (w && !String(w.className).includes('StatusWidget-exit')) return false;
  return new Function(extra)() && Date.now();
}"""
MAIN_TEXT = "(document.querySelector('[data-testid=\"stMain\"]') || document.body).innerText"
MAPPING_USABLE = f"""
  const button = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Next: review');
  return {MAIN_TEXT}.includes('Map the columns of') && !!button && !button.disabled;"""
REVIEW_SHOWN = f"return {MAIN_TEXT}.includes('Review before anything is written');"

# Samples every 100 ms the progress the page shows: the text and value of every progress bar and
# any "N of M" count; notes when the main area's text first matches the regex `done`.
PROGRESS = """(done) => {
  const p = {changes: [], ticks: 0, worstTick: 0, done: null, started: Date.now()};
  window.__progress = p;
  const finished = new RegExp(done);
  const main = () => document.querySelector('[data-testid="stMain"]') || document.body;
  const shown = () => {
    const bars = [...document.querySelectorAll('[data-testid="stProgress"]')].map(b => {
      const bar = b.querySelector('[role="progressbar"]');
      return b.innerText.trim() + ' @' + (bar ? bar.getAttribute('aria-valuenow') : '');
    });
    const counts = main().innerText.match(/\\d[\\d,.]*\\s+of\\s+\\d[\\d,.]*/g) || [];
    return bars.join(' | ') + ' # ' + counts.join(' | ');
  };
  // a sign of work: a progress bar other than the wizard's steps ("1. Details › 2. Upload …"),
  // a spinner, or the file uploader's own while the file goes up
  const working = () => [...document.querySelectorAll('[data-testid="stProgress"]')].some(
      b => !b.innerText.includes('›')) ||
    !!document.querySelector('[data-testid="stSpinner"], [data-testid="stFileChipIconSpinner"]');
  p.firstSign = null;
  let last = shown(), previous = p.started;
  p.changes.push([previous, last]);
  p.timer = setInterval(() => {
    const now = Date.now();
    p.ticks += 1;
    p.worstTick = Math.max(p.worstTick, now - previous);
    previous = now;
    if (p.firstSign === null && working()) p.firstSign = now;
    const text = shown();
    if (text !== last) { last = text; p.changes.push([now, text]); }
    if (p.done === null && finished.test(main().innerText)) { p.done = now; clearInterval(p.timer); }
  }, 100);
}"""
PROGRESS_RESULT = ("({changes: window.__progress.changes, worstTick: window.__progress.worstTick, "
                   "done: window.__progress.done, firstSign: window.__progress.firstSign})")
WAITS = ("upload", "review", "commit", "download", "undo")  # each wait's figures: s, first_sign_s, gap_s
WAIT_TARGETS = "targets: first sign ≤ 1 s; a wait over 3 s: progress gap ≤ 2 s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=1, help="runs per size, each on a fresh database and server; medians")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="realistic",
                        help="the file's shape (bench.generate): like real exports, or its clean twin")
    parser.add_argument("--timeout", type=float, default=WAIT_S, help="seconds any one step may take (default 1200)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each run's figures and where the time went")
    parser.add_argument("--screenshots", type=Path, metavar="DIR",
                        help="save the mapping, review, commit-in-progress and done screens of each run here")
    args = parser.parse_args(argv)
    global SCREENSHOTS
    SCREENSHOTS = args.screenshots
    server = os.environ.get("DATABASE_URL") or DEFAULT_URL
    results = []
    for rows in args.rows:
        path = bench_file(OUT, rows, args.seed, shape=SHAPES[args.shape])
        runs = []
        for run in range(args.runs):
            figures = measure(server, path, f"contact_import_speed_{os.getpid()}_{rows}_{run}", args.timeout)
            runs.append(figures)
            print(f"{rows:,} rows, run {run + 1}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in figures.items() if isinstance(v, float)), file=sys.stderr)
            if args.verbose:
                _details(figures)
        results.append((rows, runs))
    _print(results)
    return 0


def measure(server: str, path: Path, name: str, timeout: float = WAIT_S) -> dict:
    """One run: the CLI's dry run, then the wizard in the browser, on a new database `name`."""
    from core.storage.database import make_engine, scratch_database
    from tests.console_server import console_server

    with scratch_database(server, name) as url:
        make_engine(url).dispose()  # the schema, before the CLI and the server start
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "core", "import", str(path), "--source", "bench", "--dry-run"],
                              cwd=PROJECT, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True)
        cli = time.monotonic() - started
        if done.returncode:
            raise RuntimeError(f"the CLI's dry run failed ({done.returncode}): {done.stderr[-2000:]}")
        log = Path(tempfile.mkdtemp()) / "streamlit.log"
        with console_server(url, log, CONTACT_IMPORT_USER="bench") as (console, _):
            figures = _drive(console, path, timeout, log.parent)
    figures["cli_s"] = cli
    figures["review_per_cli"] = figures["review_s"] / cli
    return figures


def _drive(console: str, path: Path, timeout: float, keep: Path) -> dict:
    """The wizard in chromium; on a failure, a screenshot and the observer's log go to `keep`."""
    from playwright.sync_api import sync_playwright

    from tests.console_server import CHROMIUM, CHROMIUM_ARGS
    figures: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(timeout * 1000)
        try:
            _wizard(page, console, path, figures)
        except Exception:
            page.screenshot(path=str(keep / "failed.png"), full_page=True)
            (keep / "observer.log").write_text(repr(page.evaluate("window.__speed && window.__speed.log")))
            print(f"failed: the page, the observer's log and the server's log are in {keep}", file=sys.stderr)
            raise
        context.close()
        browser.close()
    return figures


def _wizard(page, console: str, path: Path, figures: dict) -> None:
    uploads = []
    page.on("requestfinished", lambda request: uploads.append(request.timing)
            if "/_stcore/upload_file" in request.url and request.method in ("PUT", "POST") else None)
    page.goto(console)
    page.get_by_label("New source").wait_for()
    page.evaluate(OBSERVE)
    page.get_by_label("New source").fill("Speed bench")
    page.get_by_label("New source").press("Enter")
    page.get_by_role("button", name="Next: upload the file").click()
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.wait_for(state="attached")
    page.wait_for_function(SETTLED, arg=[0, "return true;"])

    page.evaluate(PROGRESS, "Map the columns of")
    figures["mapping_s"], figures["upload_steps"] = timed(page, lambda: uploader.set_input_files(str(path)),
                                                           MAPPING_USABLE)
    figures["upload_wait"] = _wait_figures(page.evaluate(PROGRESS_RESULT), figures["upload_steps"]["t0"])
    figures["upload_http_s"] = _upload_seconds(uploads, figures["upload_steps"]["t0"])
    _screenshot(page, path, "1-mapping")

    combobox = page.get_by_role("combobox", name=_field_name(CHANGED_FIELD))
    original = combobox.input_value()
    other = next(c for c in ("timezone", "locale", "metadata", "email") if c != original)
    changes, figures["change_steps"], figures["lost_picks"] = [], [], 0
    figures["change_walls"] = changes
    for value in (other, original):
        for _ in range(3):  # a pick the console drops (the box shows the old value after the rerun) is retried
            combobox.click()
            option = page.get_by_role("option", name=value, exact=True)
            option.wait_for()
            wall, steps = timed(page, option.click)
            changes.append(wall)
            figures["change_steps"].append(steps)
            if combobox.input_value() == value:
                break
            figures["lost_picks"] += 1
        else:
            raise RuntimeError(f"{CHANGED_FIELD} could not be mapped to {value!r}: the pick was dropped 3 times")
    figures["change_s"] = max(changes)

    page.evaluate(PROGRESS, "Review before anything is written")
    figures["review_s"], figures["review_steps"] = timed(
        page, page.get_by_role("button", name="Next: review").click, REVIEW_SHOWN)
    figures["review_progress"] = page.evaluate(PROGRESS_RESULT)
    figures["review_wait"] = _wait_figures(figures["review_progress"], figures["review_steps"]["t0"])
    figures["upload_to_review_s"] = figures["mapping_s"] + figures["review_s"]
    _screenshot(page, path, "2-review")

    timed(page, page.get_by_role("button", name="Next: commit").click,
           "return [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Commit now');")
    if page.evaluate(f"/\\bcompleted\\b/.test({MAIN_TEXT})"):
        raise RuntimeError("'completed' is on the page before the commit")
    page.evaluate(PROGRESS, "\\bcompleted\\b")
    since = page.evaluate("window.__speed.log.length")
    called = time.time() * 1000
    page.get_by_role("button", name="Commit now").click()
    if SCREENSHOTS is not None:  # the page's own sampler keeps running meanwhile
        page.wait_for_timeout(8000)
        _screenshot(page, path, "3-commit-in-progress")
    page.wait_for_function("() => window.__progress.done !== null", polling=100)
    figures["commit_progress"] = progress = page.evaluate(PROGRESS_RESULT)
    clicked = next((t for t, kind, _ in page.evaluate(f"window.__speed.log.slice({since})") if kind == "action"), called)
    figures["commit_wait"] = wait = _wait_figures(progress, clicked)
    figures["commit_s"], figures["progress_gap_s"] = wait["s"], wait["gap_s"]
    figures["commit_clicked"] = clicked
    _screenshot(page, path, "4-done")
    _history(page, path, figures)


def _history(page, path: Path, figures: dict) -> None:
    """The import in History: its contacts' download built (a large one is prepared first, its
    progress shown), then the import undone (one statement: its time so far shown)."""
    page.get_by_role("link", name="See it in Import history").click()
    page.get_by_text(re.compile(r"— completed$")).first.wait_for()
    page.get_by_role("tab", name="Contacts").click()
    figures["download_wait"] = _watched(page, page.get_by_role("button", name=re.compile("^Prepare: download all contacts")).click,
                                        "Download all contacts of this import")
    page.get_by_role("tab", name="Undo").click()
    page.get_by_text("I understand: undo this import").click()
    page.get_by_role("button", name="Undo this import").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === "
                           "'Undo this import' && !b.disabled)")
    figures["undo_wait"] = _watched(page, page.get_by_role("button", name="Undo this import").click, "Undone:")
    _screenshot(page, path, "5-undone")


def _watched(page, action, done: str) -> dict:
    """Do action and sample the page's progress until its main area shows the regex done."""
    page.evaluate(OBSERVE)  # again: a page of its own may have been loaded
    page.evaluate(PROGRESS, done)
    since = page.evaluate("window.__speed.log.length")
    called = time.time() * 1000
    action()
    page.wait_for_function("() => window.__progress.done !== null", polling=100)
    clicked = next((t for t, kind, _ in page.evaluate(f"window.__speed.log.slice({since})") if kind == "action"), called)
    return _wait_figures(page.evaluate(PROGRESS_RESULT), clicked)


def _wait_figures(progress: dict, start: float) -> dict:
    """A wait from start (the user's action) to progress["done"]: how long, when the page first
    showed a sign of work (or was done), and the longest time the progress it showed stood still."""
    times = [start] + [t for t, _ in progress["changes"][1:] if t > start] + [progress["done"]]
    sign = progress["firstSign"] if progress["firstSign"] is not None else progress["done"]
    return {"s": (progress["done"] - start) / 1000, "first_sign_s": max(sign - start, 0) / 1000,
            "gap_s": max(b - a for a, b in zip(times, times[1:])) / 1000, "progress": progress, "start": start}


def _screenshot(page, path: Path, step: str) -> None:
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{path.stem}-{step}.png"), full_page=True)


def _field_name(field: str) -> re.Pattern:
    """The accessible name of a field's mapping box: its label (the field's name for people, when
    core.fields has one) or the field's own name."""
    from core import fields
    names = {field, getattr(fields, "field_label", lambda name: name)(field)}
    return re.compile("^(" + "|".join(re.escape(name) for name in names) + ")$", re.IGNORECASE)


def timed(page, action, extra: str = "return true;") -> tuple[float, dict]:
    """Do `action` and wait until a rerun has run and stopped and `extra` holds. Returns the seconds
    from the action (the page's first press or file change after it began; else when it was called)
    until then, and where they went."""
    since = page.evaluate("window.__speed.log.length")
    called = time.time() * 1000
    action()
    end = page.wait_for_function(SETTLED, arg=[since, extra]).json_value()
    log = page.evaluate(f"window.__speed.log.slice({since})")
    start = next((t for t, kind, _ in log if kind == "action"), called)
    return (end - start) / 1000, {
        "t0": start, "running_s": _time_in(log, "state", lambda v: v != "notRunning", start, end),
        "widget_s": _time_in(log, "widget", bool, start, end),
        "first_run_at_s": next(((t - start) / 1000 for t, kind, v in log if kind == "state" and v != "notRunning"), None)}


def _time_in(log: list, kind: str, on, t0: float, end: float) -> float:
    total, since = 0.0, None
    for t, k, value in log:
        if k != kind:
            continue
        if on(value) and since is None:
            since = max(t, t0)
        elif not on(value) and since is not None:
            total, since = total + t - since, None
    if since is not None:
        total += end - since
    return total / 1000


def _upload_seconds(timings: list, t0: float) -> float | None:
    """The browser's HTTP upload of the file (Playwright's request timing), from the action on."""
    ends = [t["startTime"] + t["responseEnd"] for t in timings if t.get("responseEnd", -1) >= 0]
    return (max(ends) - t0) / 1000 if ends else None


def _details(figures: dict) -> None:
    """Where the time went, to stderr."""
    def say(text: str) -> None:
        print("  " + text, file=sys.stderr)

    def step(name: str, steps: dict, wall: float) -> None:
        first = steps["first_run_at_s"]
        say(f"{name:<17} wall {wall:6.2f} s: the script started running after "
            f"{'-' if first is None else f'{first:.2f}'} s and ran {steps['running_s']:.2f} s; "
            f"status widget shown {steps['widget_s']:.2f} s")

    def timeline(progress: dict, start: float) -> None:
        for t, text in progress["changes"]:
            say(f"  +{max(t - start, 0) / 1000:6.2f} s  {text[:150]}")
        say(f"  +{(progress['done'] - start) / 1000:6.2f} s  done (slowest 100 ms sampling tick "
            f"{progress['worstTick'] / 1000:.2f} s)")
    upload = figures["upload_http_s"]
    say(f"the browser's HTTP upload of the file ended after {'-' if upload is None else f'{upload:.2f}'} s")
    step("upload→mapping", figures["upload_steps"], figures["mapping_s"])
    for i, (steps, wall) in enumerate(zip(figures["change_steps"], figures["change_walls"])):
        step(f"mapping pick {i + 1}", steps, wall)
    say(f"mapping picks the console dropped: {figures['lost_picks']}")
    step("review", figures["review_steps"], figures["review_s"])
    say("review, what the page showed:")
    timeline(figures["review_progress"], figures["review_steps"]["t0"])
    say(f"commit {figures['commit_s']:.2f} s, what the page showed:")
    timeline(figures["commit_progress"], figures["commit_clicked"])
    for step in ("upload", "download", "undo"):
        wait = figures[f"{step}_wait"]
        say(f"{step} {wait['s']:.2f} s, first sign of work after {wait['first_sign_s']:.2f} s, what the page showed:")
        timeline(wait["progress"], wait["start"])


COLUMNS = (("rows", None), ("upload→mapping s", "mapping_s"), ("mapping change s", "change_s"),
           ("review s", "review_s"), ("upload→review s", "upload_to_review_s"), ("CLI s", "cli_s"),
           ("review/CLI", "review_per_cli"), ("commit s", "commit_s"), ("max progress gap s", "progress_gap_s"))


def _print(results: list) -> None:
    runs = {len(r) for _, r in results}
    print(f"console speed in a real browser (chromium){', medians of %d runs' % max(runs) if max(runs) > 1 else ''}; "
          + TARGETS)
    cells = [[f"{rows:,}"] + [f"{statistics.median(run[key] for run in runs_):,.2f}" for _, key in COLUMNS[1:]]
             for rows, runs_ in results]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, (name, _) in enumerate(COLUMNS)]
    print("  ".join(name.rjust(w) for (name, _), w in zip(COLUMNS, widths)))
    for row in cells:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    _print_waits(results)
    for rows, runs_ in results:
        lost = sum(run["lost_picks"] for run in runs_)
        if lost:
            print(f"{rows:,} rows: the console dropped {lost} of {lost + 2 * len(runs_)} mapping picks (the "
                  f"{CHANGED_FIELD} box showed the previous column again after the rerun); each was picked again")


def _print_waits(results: list) -> None:
    """Each wait of the wizard and History: the page's first sign of work and its progress."""
    print("\nwaits: from the user's action until it ended (medians); " + WAIT_TARGETS)
    names = ("rows", "wait", "s", "first sign s", "max progress gap s")
    cells = [[f"{rows:,}", step] + [f"{statistics.median(run[f'{step}_wait'][key] for run in runs_):,.2f}"
                                    for key in ("s", "first_sign_s", "gap_s")]
             for rows, runs_ in results for step in WAITS]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(names)]
    print("  ".join(name.rjust(w) for name, w in zip(names, widths)))
    for row in cells:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))


if __name__ == "__main__":
    sys.exit(main())
