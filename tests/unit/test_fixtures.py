"""The hello fixture's recipe pins the sha256 of the tarball tests/fixtures.py makes from its src/."""
from __future__ import annotations

from fixtures import HELLO, hello_tarball
from mysqlbuild.recipe import load_recipe


def test_the_recipe_pins_the_tarball_made_from_src(tmp_path):
    _, sha = hello_tarball(tmp_path)
    (source,) = load_recipe(str(HELLO)).version("1.0").sources
    assert source.sha256 == sha, "src/ changed: put the new sha256 into tests/recipes/hello/recipe.yaml"


def test_the_tarball_is_reproducible(tmp_path):
    assert hello_tarball(tmp_path / "a")[1] == hello_tarball(tmp_path / "b")[1]
