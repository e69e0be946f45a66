"""The JSON Schemas published under schema/: one per YAML file the project reads, made from its model.

Editors with a YAML language server (VS Code's YAML extension, JetBrains IDEs, Neovim's
yamlls) read them through each file's first line, ``# yaml-language-server: $schema=<path>``,
to complete keys, show their descriptions and check values while you type
(docs/recipe-schema.md).  After changing a model (recipe.py, hostdocker/pins.py),
regenerate them and commit the result:

    .venv/bin/python -m mysqlbuild.schemas            # rewrites schema/*.schema.json
    .venv/bin/python -m mysqlbuild.schemas --check    # exit 1 when a committed file is out of date

tests/unit/test_schemas.py fails while a committed file differs from what the models give.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import ROOT
from .hostdocker.pins import PinFile
from .recipe import RecipeYaml
from .yamlmodel import json_schema

SCHEMA_DIR = ROOT / "schema"
# file name -> (model, title, description)
PUBLISHED = {
    "recipe.schema.json": (
        RecipeYaml, "mysqlbuild recipe",
        "recipe.yaml of a mysqlbuild recipe: what to build, from which sources, on which bases. "
        "Generated from mysqlbuild/recipe.py by `python -m mysqlbuild.schemas`; see docs/recipe-schema.md."),
    "docker-static.schema.json": (
        PinFile, "mysqlbuild Docker pin file",
        "delivery/docker-static.yaml: the static Docker engine tarballs an offline bundle may carry, pinned "
        "by sha256. Generated from mysqlbuild/hostdocker/pins.py by `python -m mysqlbuild.schemas`."),
}


def schema(name: str) -> dict[str, Any]:
    return json_schema(*PUBLISHED[name])


def text(name: str) -> str:
    return json.dumps(schema(name), indent=2, ensure_ascii=False) + "\n"


def stale(folder: Path = SCHEMA_DIR) -> list[Path]:
    """The published files that are missing or differ from what the models give now."""
    return [folder / name for name in PUBLISHED
            if not (folder / name).is_file() or (folder / name).read_text(encoding="utf-8") != text(name)]


def write(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Rewrite the published files that are out of date; returns them."""
    changed = stale(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in changed:
        path.write_text(text(path.name), encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args != ["--check"]:
        print("usage: python -m mysqlbuild.schemas [--check]", file=sys.stderr)
        return 2
    if args == ["--check"]:
        out_of_date = stale()
        for path in out_of_date:
            print(f"{path} is out of date: run python -m mysqlbuild.schemas and commit it", file=sys.stderr)
        return 1 if out_of_date else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
