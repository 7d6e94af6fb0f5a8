"""Heavy libraries load when first needed, never at API or CLI start (seconds each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numba", "great_expectations", "evidently", "torch", "pandera")

pytestmark = pytest.mark.slow  # a fresh interpreter per entry point


@pytest.mark.parametrize("module", ["api.app", "cli.main"])
def test_start_up_imports_no_heavy_library(module: str) -> None:
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
