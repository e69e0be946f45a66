"""Which build mode a target gets, and why; a mode that cannot work is refused with the fix."""
from __future__ import annotations

import pytest

from fixtures import HELLO, ROOT, copy_recipe, edit_recipe
from mysqlbuild.archs import ARCHS
from mysqlbuild.buildmode import choose_mode
from mysqlbuild.errors import ConfigError, RecipeError
from mysqlbuild.recipe import load_recipe
from mysqlbuild.settings import resolve
from mysqlbuild.stages.rpms import missing_library, missing_library_hint

ARM, AMD = ARCHS["arm64"], ARCHS["amd64"]
MYSQL = load_recipe("mysql57")
CROSSABLE, PLAIN = MYSQL.bases["debian11"], MYSQL.bases["el7"]


@pytest.mark.parametrize("requested", ["auto", "native", "cross", "emulate"])
def test_same_architecture_is_native_whatever_was_asked(requested):
    mode = choose_mode(requested, AMD, AMD, CROSSABLE)
    assert mode.name == "native" and mode.host == AMD
    assert ("nothing to" in mode.reason) == (requested in ("cross", "emulate"))


def test_auto_cross_compiles_where_the_base_declares_a_toolchain():
    mode = choose_mode("auto", ARM, AMD, CROSSABLE)
    assert (mode.name, mode.host, mode.cross) == ("cross", AMD, True)
    assert "base debian11 declares a cross toolchain" in mode.reason


def test_auto_falls_back_to_emulation_and_says_why():
    mode = choose_mode("auto", ARM, AMD, PLAIN)
    assert mode.name == "emulate"
    assert "base el7 declares no cross toolchain (recipe.yaml bases.el7.cross)" in mode.reason


def test_emulate_stays_selectable_where_cross_would_work():
    assert choose_mode("emulate", ARM, AMD, CROSSABLE).name == "emulate"


def test_forced_cross_without_a_toolchain_fails_at_once_with_the_fix():
    with pytest.raises(ConfigError) as err:
        choose_mode("cross", ARM, AMD, PLAIN)
    assert "base el7 declares no cross toolchain" in err.value.message
    assert "bases.el7" in err.value.hint and "--mode emulate" in err.value.hint


def test_native_for_another_architecture_is_refused():
    with pytest.raises(ConfigError) as err:
        choose_mode("native", ARM, AMD, CROSSABLE)
    assert "this host is x86_64, the target aarch64" in err.value.message
    assert "--mode cross" in err.value.hint


def test_the_reverse_direction_works_too():
    assert choose_mode("auto", AMD, ARM, CROSSABLE).name == "cross"


def test_mode_is_a_setting_with_a_checked_value():
    assert resolve({}, {}, {}).mode == "auto"
    assert resolve({"mode": "emulate"}, {"MYSQLBUILD_MODE": "cross"}, {}).mode == "cross"
    with pytest.raises(ConfigError) as err:
        resolve({}, {}, {"mode": "fast"})
    assert "auto, native, cross, emulate" in err.value.message


def test_a_cross_section_is_validated(tmp_path):
    recipe = copy_recipe(HELLO, tmp_path / "hello")
    edit_recipe(recipe, lambda d: d["bases"]["debian12"]["cross"].update(compiler="gcc"))
    with pytest.raises(RecipeError) as err:
        load_recipe(str(recipe))
    assert "bases.debian12.cross: unknown key 'compiler'" in err.value.message
    edit_recipe(recipe, lambda d: d["bases"]["debian12"].update(cross={"requires": ["clang"], "gcc_toolchain": "x"}))
    with pytest.raises(RecipeError) as err:
        load_recipe(str(recipe))
    assert "bases.debian12.cross.gcc_toolchain: 'x' must be an absolute path" in err.value.message
    edit_recipe(recipe, lambda d: d["bases"]["debian12"].update(cross={"requires": []}))
    with pytest.raises(RecipeError) as err:
        load_recipe(str(recipe))
    assert "bases.debian12.cross.requires: must list at least one entry" in err.value.message


@pytest.mark.parametrize("line,name", [
    ("ld.lld: error: unable to find library -lzstd", "-lzstd"),
    ("/usr/bin/ld: cannot find -lzstd: No such file or directory", "-lzstd"),
    ("/usr/bin/ld: cannot find -lstdc++", "-lstdc++"),
    ("CMake Error at /usr/share/cmake-3.25/Modules/FindPackageHandleStandardArgs.cmake:230 (message):\n"
     "  Could NOT find ZLIB (missing: ZLIB_LIBRARY ZLIB_INCLUDE_DIR)", "ZLIB"),
    ("-- Could NOT find Git (missing: GIT_EXECUTABLE)", None),             # an optional package: a note
    ("make[2]: *** [Makefile:97: gentable] Error 1", None),
])
def test_a_missing_library_is_read_from_the_log(line, name):
    assert missing_library(f"[ 50%] Linking C executable hello\n{line}\nerror: Bad exit status\n") == name


def test_the_hint_names_the_library_and_the_requirement(tmp_path):
    from mysqlbuild.settings import Settings
    from mysqlbuild.target import load_targets

    settings = Settings(recipe=str(HELLO), mode="cross", build_dir=str(tmp_path))
    (t,) = load_targets(settings, tmp_path, AMD)
    message, hint = missing_library_hint(t, "-lzstd")
    assert message == "the library -lzstd is not in the sysroot (the aarch64 builder image of base debian12)"
    assert "libzstd.so" in hint and "libzstd-dev" in hint and "bases.debian12.build_requires" in hint
    (t,) = load_targets(settings.with_(mode="emulate"), tmp_path, AMD)
    assert missing_library_hint(t, "ZLIB")[0] == "the library ZLIB is not in the aarch64 builder image of base debian12"
    assert "ZLIB's library and headers (its -dev or -devel package)" in missing_library_hint(t, "ZLIB")[1]


def test_the_mysql_cross_toolchain_turns_off_fp_contraction_as_mysql_does_for_gcc(tmp_path):
    from mysqlbuild.buildercontext import builder_dockerfile
    from mysqlbuild.settings import Settings
    from mysqlbuild.target import load_targets

    assert CROSSABLE.cross.flags == ("-ffp-contract=off",)
    (t,) = load_targets(Settings(base="debian11", build_dir=str(tmp_path)), ROOT, AMD)
    assert "CROSS_FLAGS=-ffp-contract=off" in builder_dockerfile(t)


def test_a_cross_flag_must_be_one_option(tmp_path):
    recipe = copy_recipe(HELLO, tmp_path / "hello")
    edit_recipe(recipe, lambda d: d["bases"]["debian12"]["cross"].update(flags=["-O2 -g"]))
    with pytest.raises(RecipeError) as err:
        load_recipe(str(recipe))
    assert "bases.debian12.cross.flags[0]: '-O2 -g' is not one compiler option" in err.value.message


def test_without_qemu_for_the_target_the_builder_stops_with_the_fix(tmp_path, monkeypatch):
    # Unregistering QEMU from binfmt_misc would break this machine for every other test: the
    # check's answer is replaced here, as binfmt_misc would give it on a host without QEMU.
    import io

    from mysqlbuild.engine import ClientInfo, Engine
    from mysqlbuild.errors import EngineError
    from mysqlbuild.pipeline import Pipeline
    from mysqlbuild.progress import Reporter
    from mysqlbuild.settings import Settings
    from mysqlbuild.stages import builder

    monkeypatch.setattr(builder, "arch_runnable", lambda arch: (False, f"no qemu-{arch.rpm} entry"))
    p = Pipeline(Settings(recipe=str(HELLO), build_dir=str(tmp_path)), Reporter(io.StringIO()),
                 engine=Engine(_client=ClientInfo("/usr/bin/docker", "20.10.24", buildx=False)))
    (t,) = p.targets()
    with pytest.raises(EngineError) as err:
        builder.STAGE.run(p.ctx, t, forced=False)
    assert "aarch64 programs cannot run on this host (no qemu-aarch64 entry), and the cross build needs them" \
        in err.value.message
    assert "update-binfmts --enable qemu-aarch64" in err.value.hint
    assert not (tmp_path / "hello").exists(), "nothing was built"
