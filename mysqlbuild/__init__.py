"""mysqlbuild: MySQL 5.7 from the official source to aarch64 RPMs and a verified image.

ROOT is the checkout (recipes/, dockerfiles/, entrypoint/ live there); git_revision() names its commit.
"""
from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

ROOT = Path(__file__).resolve().parent.parent


def git_revision(root: Path = ROOT) -> str:
    """The commit of the checkout that made an image or a bundle ("unknown" outside git, or without git)."""
    from .errors import CommandError, EngineError
    from .proc import run

    try:
        result = run(["git", "-C", str(root), "rev-parse", "HEAD"], check=False, timeout=10)
    except (CommandError, EngineError):         # no answer in time; no git
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"
