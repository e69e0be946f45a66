"""More of recipe.yaml's mistakes and how they are told: the key path of every kind of place (a
mapping's key, a list's entry, a nested section), what was found, and which mistake comes first."""
from __future__ import annotations

import pytest

from fixtures import HELLO, copy_recipe, edit_recipe
from mysqlbuild.errors import RecipeError
from mysqlbuild.recipe import load_recipe
from mysqlbuild.yamlmodel import key_path, kind


def refused(tmp_path, edit) -> RecipeError:
    recipe = copy_recipe(HELLO, tmp_path / "hello")
    edit_recipe(recipe, edit)
    with pytest.raises(RecipeError) as info:
        load_recipe(str(recipe))
    assert info.value.message.startswith(f"{recipe / 'recipe.yaml'}: "), "the file comes first"
    return info.value


@pytest.mark.parametrize("edit,message,hint", [
    (lambda d: d["bases"]["debian12"].update(cross={}), "bases.debian12: unknown key 'cross'",
     "allowed keys here: family, builder, runtime, build_requires, runtime_requires, setup, debootstrap"),
    (lambda d: d["bases"]["debian12"]["debootstrap"].update(suite=None),
     "bases.debian12.debootstrap.suite: must be a non-empty string, found nothing", None),
    (lambda d: d["bases"]["debian12"].update(build_requires="gcc"),
     "bases.debian12.build_requires: must be a list, found str 'gcc'", None),
    (lambda d: d["bases"]["debian12"].update(build_requires=["gcc", True]),
     "bases.debian12.build_requires[1]: must be a non-empty string, found boolean True", None),
    (lambda d: d["rpm"]["conditionals"].update(fail="no"),
     "rpm.conditionals.fail: must be true or false, found str 'no'", None),
    (lambda d: d["rpm"]["conditionals"].update(Fail=False),
     "rpm.conditionals.Fail: is not a valid rpm conditional name (lowercase, digits, _)", None),
    (lambda d: d["versions"]["1.0"].update(source_date_epoch="soon"),
     "versions.1.0.source_date_epoch: must be an integer, found str 'soon'", None),
    (lambda d: d["versions"]["1.0"].update(source_date_epoch=0),
     "versions.1.0.source_date_epoch: must be a positive Unix time", None),
    (lambda d: d["versions"]["1.0"]["sources"].append(dict(d["versions"]["1.0"]["sources"][0])),
     "versions.1.0.sources: two sources have the same file name", None),
    (lambda d: d["image"].update(env={"1X": "y"}), "image.env.1X: is not a valid environment variable name", None),
    (lambda d: d["image"].update(files=[{"src": "hello.spec", "dest": "/x", "mode": 493}]),
     "image.files[0].mode: '493' is not an octal file mode", 'write it as a quoted string, e.g. "0755"'),
    (lambda d: d.update(measured={"turbo": "1h"}), "measured.turbo: 'turbo' is not a build mode",
     "modes: native, cross, emulate"),
    (lambda d: d.update(mtr=None), "mtr: must be a mapping, found nothing", None),
    (lambda d: d.update(image=[]), "image: must be a mapping, found a list", None),
])
def test_each_mistake_names_its_key_path_and_what_was_found(tmp_path, edit, message, hint):
    error = refused(tmp_path, edit)
    assert message in error.message
    if hint:
        assert hint in error.hint


def test_a_file_that_is_no_mapping(tmp_path):
    recipe = copy_recipe(HELLO, tmp_path / "hello")
    (recipe / "recipe.yaml").write_text("- a list\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(str(recipe))
    assert info.value.message == f"{recipe / 'recipe.yaml'}: must be a mapping, found a list"


def test_a_missing_file_is_told_after_the_other_mistakes(tmp_path):
    """A recipe copied elsewhere loses its relative paths; its own mistakes are named first."""
    error = refused(tmp_path, lambda d: d.update(spec="elsewhere.spec", default_base="el7"))
    assert "default_base: 'el7' is not one of the bases" in error.message
    error = refused(tmp_path / "2", lambda d: d.update(spec="elsewhere.spec"))
    assert "spec: file 'elsewhere.spec' not found" in error.message
    assert error.hint == "paths in a recipe are relative to the recipe folder"


def test_numbers_are_taken_as_text_where_text_is_asked_for(tmp_path):
    recipe = copy_recipe(HELLO, tmp_path / "hello")
    edit_recipe(recipe, lambda d: d["versions"]["1.0"].update(release=2))
    assert load_recipe(str(recipe)).version("1.0").release == "2"


def test_key_paths_and_what_was_found():
    assert key_path(("versions", "1.0", "sources", 0, "sha256")) == "versions.1.0.sources[0].sha256"
    assert key_path(("versions", "1 0", "[key]")) == "versions.1 0"
    assert key_path(()) == ""
    assert [kind(v) for v in (None, True, {}, [], "x", 5)] == [
        "nothing", "boolean True", "a mapping", "a list", "str 'x'", "int 5"]
