"""The published JSON Schemas (schema/): what the models give, named on the first line of every YAML
file the project reads, valid, and refusing what the loader refuses, so that an editor with a YAML
language server checks a recipe as `invoke` will (docs/recipe-schema.md)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from fixtures import HELLO, ROOT, copy_recipe, edit_recipe
from mysqlbuild import schemas
from mysqlbuild.errors import PipelineError
from mysqlbuild.hostdocker import load_pins
from mysqlbuild.recipe import load_recipe

CHECK = Path(sys.executable).with_name("check-jsonschema")
HEADER = "# yaml-language-server: $schema="
RECIPES = sorted(ROOT.glob("recipes/*/recipe.yaml")) + sorted(ROOT.glob("tests/recipes/*/recipe.yaml"))
PIN_FILE = ROOT / "delivery" / "docker-static.yaml"
FILES = [(path, "recipe.schema.json") for path in RECIPES] + [(PIN_FILE, "docker-static.schema.json")]
IDS = [str(path.relative_to(ROOT)) for path, _ in FILES]


def validator(name: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((schemas.SCHEMA_DIR / name).read_text()))


def test_the_committed_schemas_are_what_the_models_give():
    assert schemas.stale() == [], "a model changed: run .venv/bin/python -m mysqlbuild.schemas and commit schema/"


def test_a_stale_or_missing_schema_file_is_found_and_rewritten(tmp_path):
    assert sorted(p.name for p in schemas.stale(tmp_path)) == sorted(schemas.PUBLISHED)
    schemas.write(tmp_path)
    assert schemas.stale(tmp_path) == []
    (tmp_path / "recipe.schema.json").write_text("{}\n")
    assert schemas.stale(tmp_path) == [tmp_path / "recipe.schema.json"]
    assert schemas.write(tmp_path) == [tmp_path / "recipe.schema.json"] and schemas.stale(tmp_path) == []


def test_the_documented_check_command_passes():
    proc = subprocess.run([sys.executable, "-m", "mysqlbuild.schemas", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_repository_has_the_recipes_this_test_checks():
    assert {p.parent.name for p in RECIPES} >= {"mysql57", "hello", "mariadb"}


@pytest.mark.parametrize("path,name", FILES, ids=IDS)
def test_every_yaml_file_names_its_schema_on_its_first_line(path, name):
    first = path.read_text().splitlines()[0]
    assert first.startswith(HEADER), f"{path}: the first line must be {HEADER}<relative path to schema/{name}>"
    assert (path.parent / first[len(HEADER):]).resolve() == schemas.SCHEMA_DIR / name


@pytest.mark.parametrize("path,name", FILES, ids=IDS)
def test_every_yaml_file_passes_its_published_schema(path, name):
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator(name).iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_check_jsonschema_finds_the_schemas_valid_and_every_file_passing():
    exe = str(CHECK) if CHECK.exists() else shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is part of the test extra"
    runs = [["--check-metaschema", *(str(schemas.SCHEMA_DIR / n) for n in schemas.PUBLISHED)],
            ["--schemafile", str(schemas.SCHEMA_DIR / "recipe.schema.json"), *map(str, RECIPES)],
            ["--schemafile", str(schemas.SCHEMA_DIR / "docker-static.schema.json"), str(PIN_FILE)]]
    for args in runs:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", sorted(schemas.PUBLISHED))
def test_every_key_has_a_description_for_the_editor(name):
    schema = json.loads((schemas.SCHEMA_DIR / name).read_text())
    undescribed = [f"{where}.{key}" for where, part in [("", schema), *schema.get("definitions", {}).items()]
                   for key, value in part["properties"].items() if not value.get("description")]
    assert undescribed == [], "describe these fields with a docstring under them in their model"


def recipe_edits():
    sha = "a" * 64
    download = {"file": "gosu", "arch": "sparc", "sha256": sha, "urls": ["https://x/gosu"], "dest": "/usr/bin/gosu"}
    return {
        "an unknown key": lambda d: d.update(colour="blue"),
        "a key a base no longer has": lambda d: d["bases"]["debian12"].update(cross={"requires": ["clang"]}),
        "a missing key": lambda d: d.pop("spec"),
        "a malformed sha256": lambda d: d["versions"]["1.0"]["sources"][0].update(sha256="abc123"),
        "no URL": lambda d: d["versions"]["1.0"]["sources"][0].update(urls=[]),
        "not a URL": lambda d: d["versions"]["1.0"]["sources"][0].update(urls=["ftp.example.org/x"]),
        "a file name with folders": lambda d: d["versions"]["1.0"]["sources"][0].update(file="../x.tar.gz"),
        "an unknown family": lambda d: d["bases"]["debian12"].update(family="zypper"),
        "no versions": lambda d: d.update(versions={}),
        "a bad version key": lambda d: d["versions"].update({"1 0": d["versions"]["1.0"]}),
        "an RPM release with a dash": lambda d: d["versions"]["1.0"].update(release="1-2"),
        "a negative epoch": lambda d: d["versions"]["1.0"].update(source_date_epoch=-1),
        "a bad conditional name": lambda d: d["rpm"]["conditionals"].update(Turbo=True),
        "a conditional that is no boolean": lambda d: d["rpm"]["conditionals"].update(fail="no"),
        "an unknown atomics": lambda d: d.update(codegen={"atomics": "fast"}),
        "two compiler options in one": lambda d: d.update(codegen={"flags": ["-O2 -g"]}),
        "an x86 -march": lambda d: d.update(codegen={"march": "x86-64"}),
        "an unknown build mode": lambda d: d.update(measured={"turbo": "1h"}),
        "a port out of range": lambda d: d["image"].update(expose=[70000]),
        "a relative path in the image": lambda d: d["image"].update(volumes=["data"], files=[
            {"src": "hello.spec", "dest": "etc/x"}]),
        "an unknown architecture": lambda d: d["image"].update(downloads=[download]),
        "an unquoted file mode": lambda d: d["image"].update(files=[{"src": "hello.spec", "dest": "/x", "mode": 493}]),
        "a test name without its suite": lambda d: d.update(mtr={
            "packages": ["hello"], "testdir": "/t", "default_selection": "s",
            "selections": {"s": {"description": "x", "tests": ["nodot"]}}}),
    }


@pytest.mark.parametrize("edit", list(recipe_edits().values()), ids=list(recipe_edits()))
def test_the_schema_refuses_what_the_loader_refuses(tmp_path, edit):
    recipe = copy_recipe(HELLO, tmp_path / "hello")
    edit_recipe(recipe, edit)
    with pytest.raises(PipelineError):
        load_recipe(str(recipe))
    assert list(validator("recipe.schema.json").iter_errors(yaml.safe_load((recipe / "recipe.yaml").read_text())))


@pytest.mark.parametrize("edit", [
    lambda d: d["versions"]["28.0.4"].update(arm64=d["versions"]["28.0.4"]["aarch64"]),
    lambda d: d["versions"].update({"x1": d["versions"]["28.0.4"]}),
    lambda d: d["versions"]["28.0.4"]["x86_64"].update(file="docker-28.0.4.zip"),
    lambda d: d["versions"]["28.0.4"]["x86_64"].update(size=10),
    lambda d: d["versions"].update({"29.0.0": {}}),
    lambda d: d.update(versions={}),
], ids=["arm64 for aarch64", "a version that is none", "a zip", "an unknown key", "no architecture", "no versions"])
def test_the_pin_schema_refuses_what_the_pin_loader_refuses(tmp_path, edit):
    data = yaml.safe_load(PIN_FILE.read_text())
    edit(data)
    path = tmp_path / "pins.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(PipelineError):
        load_pins(path)
    assert list(validator("docker-static.schema.json").iter_errors(data))


def test_the_recipe_schema_page_names_every_key():
    """docs/recipe-schema.md is what recipe authors read: a key missing there is a key they cannot find."""
    schema = json.loads((schemas.SCHEMA_DIR / "recipe.schema.json").read_text())
    page = (ROOT / "docs" / "recipe-schema.md").read_text()
    keys = {key for part in [schema, *schema["definitions"].values()] for key in part["properties"]}
    assert sorted(key for key in keys if f"`{key}`" not in page) == []
