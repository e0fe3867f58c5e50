"""axe-core for the browser tests' accessibility checks, from the npm registry into the git-ignored `.npm-axe/`
(`npm pack` the first time; no browser is downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from tests.support.processes import ROOT

AXE_VERSION = "4.14.1"
AXE_DIR = ROOT / ".npm-axe"
AXE_JS = AXE_DIR / "package" / "axe.min.js"
# Serious and critical only; colour contrast is included (the tests check both colour schemes).
AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 5).map(n => n.target.join(" ")) }));
}"""


def fetch_axe() -> Path:
    """axe.min.js, fetched once; RuntimeError names what is missing. Parallel test processes may fetch it at once:
    each unpacks into its own folder and moves the package into place in one rename, so none reads half a file."""
    if AXE_JS.is_file():
        return AXE_JS
    if not shutil.which("npm"):
        raise RuntimeError("npm (to fetch axe-core)")
    AXE_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=AXE_DIR) as unpacked:
        done = subprocess.run(
            ["npm", "pack", f"axe-core@{AXE_VERSION}", "--silent"], cwd=unpacked, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"axe-core from npm ({done.stderr.strip()[:200]})")
        with tarfile.open(Path(unpacked) / done.stdout.strip().splitlines()[-1]) as archive:
            archive.extractall(unpacked, filter="data")
        try:
            os.rename(Path(unpacked) / "package", AXE_JS.parent)
        except OSError:
            if not AXE_JS.is_file():  # not another process's package in place first
                raise
    return AXE_JS
