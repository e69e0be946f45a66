"""mysqlbuild: MySQL 5.7 from the official source to aarch64 RPMs and a verified image.

ROOT is the checkout (recipes/, dockerfiles/, entrypoint/ live there); git_revision() names its commit.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

__version__ = "0.1.0"

ROOT = Path(__file__).resolve().parent.parent


def git_revision(root: Path = ROOT) -> str:
    """The commit of the checkout that made an image or a bundle ("unknown" outside git)."""
    try:
        proc = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        return proc.stdout.strip() if proc.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
