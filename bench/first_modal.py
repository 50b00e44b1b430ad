"""Time from a fresh clone to the first modal, following the README to the letter.

Usage: python bench/first_modal.py [--repo .] [--branch BRANCH] [--keep]

1. `git clone --branch BRANCH REPO` into a temporary folder (the committed tree: nothing of
   this checkout's uncommitted state or installed packages comes along);
2. a new virtualenv there and the README's quick-start install, `pip install -e .`;
3. the README's "Connect it to Slack" commands, read from the clone's README.md, against the
   local Slack stand-in (manifest → .env → migrate → the three imports → doctor → serve);
4. a signed `/report-risk Acme Corp` until the stand-in records the app's `views.open`.

Prints each phase and, on its last line, the total seconds from `git clone` to the modal.
Needs only 127.0.0.1 and the package index pip is configured with.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.devtools.readme import SIGNING_SECRET, TEAM_ID, follow_readme  # noqa: E402
from bot.devtools.standin import SlackDriver, SlackStandin  # noqa: E402


def _branch(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--abbrev-ref", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=ROOT)
    ap.add_argument("--branch", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the clone folder")
    args = ap.parse_args()
    branch = args.branch or _branch(args.repo)
    work = Path(tempfile.mkdtemp(prefix="ft-fresh-clone-"))
    clone = work / "followthrough"
    marks: list[tuple[str, float]] = []
    t0 = time.perf_counter()

    def mark(what: str) -> None:
        marks.append((what, time.perf_counter() - t0))
        print(f"{marks[-1][1]:7.1f}s  {what}", flush=True)

    try:
        subprocess.run(
            ["git", "clone", "-q", "--branch", branch, str(args.repo), str(clone)], check=True
        )
        mark(f"git clone --branch {branch}")
        subprocess.run([sys.executable, "-m", "venv", str(clone / ".venv")], check=True)
        python = str(clone / ".venv" / "bin" / "python")
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "-e", "."],
            cwd=clone,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        mark("python3 -m venv && pip install -e .")
        with SlackStandin() as standin:
            followed = follow_readme(
                clone, standin, python=python, on_step=lambda cmd, _r: mark(cmd)
            )
            try:
                mark("followthrough serve (answering /healthz)")
                driver = SlackDriver(
                    SIGNING_SECRET,
                    TEAM_ID,
                    standin,
                    followed.events_url,
                    user_id="U0MAYA",
                    channel_id="C0CSRISK",
                )
                driver.command("/report-risk", "Acme Corp")
                standin.wait_for("views.open", lambda c: c.ok)
                mark("signed /report-risk → views.open (the first modal)")
            finally:
                followed.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"fresh clone → first modal: {marks[-1][1]:.1f} s")


if __name__ == "__main__":
    main()
