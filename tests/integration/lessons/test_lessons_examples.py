"""Every runnable example prints exactly the output its lesson shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lessons.catalog import EXAMPLES_DIR, get_catalog

EXAMPLES = sorted(EXAMPLES_DIR.glob("*/*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(EXAMPLES_DIR)) for p in EXAMPLES])
def test_it_prints_exactly_what_the_lesson_shows(path: Path, tmp_path: Path) -> None:
    # -I: isolated from the environment and user site-packages, as a reader's plain `python3 file.py` would be.
    result = subprocess.run(
        [sys.executable, "-I", str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=20, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == path.with_suffix(".out").read_text(encoding="utf-8")


def test_it_shows_every_example_file_in_some_lesson() -> None:
    shown = {name for lesson in get_catalog().lessons for name in lesson.examples}
    assert {str(p.relative_to(EXAMPLES_DIR)) for p in EXAMPLES} == shown
