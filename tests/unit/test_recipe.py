"""Recipe validation: one case per kind of mistake, each message naming file, field and what is allowed."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from mysqlbuild.errors import RecipeError
from mysqlbuild.recipe import load_recipe

SHA = "a" * 64


def write_recipe(folder: Path, data: dict | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.spec").write_text("Name: x\n")
    (folder / "fix.patch").write_text("--- a\n+++ b\n")
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    (folder / "recipe.yaml").write_text(text)
    return folder


def good() -> dict:
    return {
        "name": "demo",
        "default_version": "1.0",
        "default_base": "el7",
        "spec": "x.spec",
        "versions": {"1.0": {"sources": [{"file": "demo-1.0.tar.gz", "sha256": SHA,
                                          "urls": ["https://example.org/demo-1.0.tar.gz"]}],
                             "patches": [{"file": "fix.patch", "reason": "builds on aarch64"}]}},
        "bases": {"el7": {"family": "yum", "builder": "oraclelinux:7", "runtime": "oraclelinux:7-slim",
                          "build_requires": ["gcc"]}},
    }


def test_a_good_recipe_loads_into_frozen_dataclasses(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path / "demo", good()))
    version = recipe.version(None)
    assert version.version == "1.0" and version.release == "1"
    assert version.sources[0].urls == ("https://example.org/demo-1.0.tar.gz",)
    assert version.patches[0].reason == "builds on aarch64"
    assert recipe.base(None).family == "yum"
    with pytest.raises(Exception):
        version.release = "2"  # frozen


def mutate(path: list, value=None, delete=False):
    def apply(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return data
    return apply


SRC = ["versions", "1.0", "sources", 0]
CASES = [
    ("missing field", mutate(["spec"], delete=True), ["recipe.yaml", "missing required key 'spec'"]),
    ("missing sha256", mutate(SRC + ["sha256"], delete=True),
     ["versions.1.0.sources[0]", "missing required key 'sha256'"]),
    ("malformed checksum", mutate(SRC + ["sha256"], "abc123"),
     ["versions.1.0.sources[0].sha256", "'abc123' is not a sha256", "64 lowercase hexadecimal"]),
    ("uppercase checksum", mutate(SRC + ["sha256"], "A" * 64), ["is not a sha256"]),
    ("unknown key", mutate(["colour"], "blue"), ["unknown key 'colour'", "allowed keys here:"]),
    ("unknown key in a source", mutate(SRC + ["md5"], "x"),
     ["versions.1.0.sources[0]", "unknown key 'md5'", "file, sha256, urls"]),
    ("no urls", mutate(SRC + ["urls"], []), ["versions.1.0.sources[0].urls", "at least one"]),
    ("not a url", mutate(SRC + ["urls"], ["ftp.example.org/x"]), ["is not a URL", "http://, https://, file://"]),
    ("file with folders", mutate(SRC + ["file"], "../x.tar.gz"), ["must be a plain file name"]),
    ("bad family", mutate(["bases", "el7", "family"], "zypper"), ["bases.el7.family", "'zypper'", "apt, yum, dnf"]),
    ("default version not listed", mutate(["default_version"], "2.0"),
     ["default_version", "'2.0' is not one of the versions", "1.0"]),
    ("default base not listed", mutate(["default_base"], "kylin"), ["'kylin' is not one of the bases"]),
    ("patch without reason", mutate(["versions", "1.0", "patches", 0, "reason"], delete=True),
     ["patches[0]", "missing required key 'reason'"]),
    ("patch file missing", mutate(["versions", "1.0", "patches", 0, "file"], "nope.patch"),
     ["patches[0].file", "'nope.patch' not found"]),
    ("multi-line patch reason", mutate(["versions", "1.0", "patches", 0, "reason"], "one\ntwo"), ["must be one line"]),
    ("sources not a list", mutate(["versions", "1.0", "sources"], "x.tar.gz"), ["must be a list"]),
    ("no versions", mutate(["versions"], {}), ["versions", "at least one version"]),
    ("spec missing", mutate(["spec"], "other.spec"), ["spec", "'other.spec' not found"]),
    ("bad name", mutate(["name"], "My Recipe"), ["name", "is not a valid recipe name"]),
    ("debootstrap on yum", mutate(["bases", "el7", "debootstrap"], {"suite": "bookworm"}),
     ["only an apt-family base"]),
]


@pytest.mark.parametrize("what,edit,expected", CASES, ids=[c[0] for c in CASES])
def test_a_bad_recipe_is_refused_with_file_field_and_allowed_values(tmp_path, what, edit, expected):
    folder = write_recipe(tmp_path / "demo", edit(good()))
    with pytest.raises(RecipeError) as info:
        load_recipe(folder)
    text = info.value.render()
    assert str(folder / "recipe.yaml") in text
    for part in expected:
        assert part in text, f"{part!r} not in {text!r}"


def test_a_version_that_is_not_there(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path / "demo", good()))
    with pytest.raises(RecipeError) as info:
        recipe.version("9.9")
    assert "version '9.9' is not in" in info.value.message
    assert "available versions: 1.0" in info.value.hint


def test_invalid_yaml_names_the_file(tmp_path):
    folder = write_recipe(tmp_path / "demo", "name: [unclosed\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(folder)
    assert "not valid YAML" in info.value.message and "recipe.yaml" in info.value.message


def test_recipe_option_takes_a_name_or_a_path(tmp_path):
    write_recipe(tmp_path / "recipes" / "demo", good())
    by_name = load_recipe("demo", tmp_path / "recipes")
    by_path = load_recipe(str(tmp_path / "recipes" / "demo"), tmp_path / "elsewhere")
    assert by_name.path == by_path.path
    with pytest.raises(RecipeError) as info:
        load_recipe("nothing", tmp_path / "recipes")
    assert "recipes under" in info.value.hint and "demo" in info.value.hint


def test_the_repository_recipes_validate(project_root):
    mysql = load_recipe("mysql57", project_root / "recipes")
    source = mysql.version(None).sources[0]
    assert mysql.default_version == "5.7.44"
    assert source.sha256 == "b8fe262c4679cb7bbc379a3f1addc723844db168628ce2acf78d33906849e491"
    assert len(source.urls) == 3
    hello = load_recipe(project_root / "tests" / "recipes" / "hello")
    assert hello.tests is not None and hello.tests.is_dir()


def test_conditionals_accept_only_declared_names(tmp_path):
    data = good()
    data["rpm"] = {"conditionals": {"debug": False, "lse": False}}
    recipe = load_recipe(write_recipe(tmp_path / "demo", data))
    assert recipe.conditionals({"lse": True}) == {"debug": False, "lse": True}
    with pytest.raises(RecipeError) as info:
        recipe.conditionals({"turbo": True})
    assert "debug, lse" in info.value.hint


def test_download_arch_must_be_known(tmp_path):
    data = good()
    data["image"] = {"downloads": [{"file": "gosu", "arch": "sparc", "sha256": SHA, "urls": ["https://x/gosu"],
                                    "dest": "/usr/local/bin/gosu"}]}
    with pytest.raises(RecipeError) as info:
        load_recipe(write_recipe(tmp_path / "demo", data))
    assert "image.downloads[0].arch" in info.value.message and "arm64" in info.value.hint
