"""Long CLI work shows a progress bar to a person at a terminal, and nothing extra otherwise."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from cli.progress import progress_bar, spinner
from tests.ranker.test_cli import TINY, environment, run

ROOT = Path(__file__).resolve().parents[2]
WINDOW = ["--from", "2026-11-02T00:00", "--to", "2026-11-02T06:00"]
BAR = "━"


def test_progress_is_silent_when_output_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress_bar("posting", total=10) as advance:
        for done in range(11):
            advance(done, f"{done} posted")
    with spinner("training") as retitle:
        retitle("evaluating")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def _run_in_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; return its code and screen."""
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "120"},
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 300)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


@pytest.mark.slow  # child processes
def test_feed_posting_shows_a_bar_at_a_terminal_and_plain_lines_when_piped(
    committed_db: str, tmp_path: Path
) -> None:
    env = environment(committed_db, tmp_path / "data")
    code, screen = _run_in_terminal(["ranker", "feed", *WINDOW, *TINY], env)
    assert code == 0, screen
    assert BAR in screen and "feed: " in screen and "batches posted" in screen
    assert "feed run " in screen

    piped = run(
        ["ranker", "feed", "--from", "2026-11-02T06:00", "--to", "2026-11-02T12:00", *TINY], env
    )
    assert piped.stdout.startswith("feed run ") and piped.stdout.count("\n") == 1
    assert BAR not in piped.stdout + piped.stderr and "\x1b[" not in piped.stdout + piped.stderr
