"""Which build mode a target gets, and why; a mode that cannot work is refused with the fix."""
from __future__ import annotations

import pytest

from fixtures import HELLO, ROOT, copy_recipe, edit_recipe
from mysqlbuild.archs import ARCHS, Arch
from mysqlbuild.buildmode import choose_mode
from mysqlbuild.errors import ConfigError, RecipeError
from mysqlbuild.recipe import load_recipe
from mysqlbuild.settings import resolve
from mysqlbuild.stages.rpms import missing_library, missing_library_hint

ARM, AMD = ARCHS["arm64"], ARCHS["amd64"]
# A host architecture Debian packages no clang for: what auto and --mode cross do there.
RISCV = Arch("riscv64", "riscv64", 243, "riscv64-linux-gnu")
MYSQL = load_recipe("mysql57")
TOOLCHAIN = "clang-16"


@pytest.mark.parametrize("requested", ["auto", "native", "cross", "emulate"])
def test_same_architecture_is_native_whatever_was_asked(requested):
    mode = choose_mode(requested, AMD, AMD, TOOLCHAIN)
    assert mode.name == "native" and mode.host == AMD and mode.toolchain is None
    assert ("nothing to" in mode.reason) == (requested in ("cross", "emulate"))


@pytest.mark.parametrize("base", sorted(MYSQL.bases))
def test_auto_cross_compiles_on_every_base_with_the_host_toolchain(base):
    from mysqlbuild.settings import Settings
    from mysqlbuild.target import load_targets

    (t,) = load_targets(Settings(base=base), ROOT, AMD)
    assert (t.mode.name, t.mode.host, t.mode.cross) == ("cross", AMD, True)
    assert t.toolchain is not None and t.toolchain.name == "clang-16" and t.toolchain.host == AMD
    assert "clang-16 runs natively in the aarch64 builder" in t.mode.reason


def test_the_default_build_plans_cross_mode_on_an_x86_64_host():
    from mysqlbuild.settings import Settings
    from mysqlbuild.target import load_targets

    (t,) = load_targets(Settings(), ROOT, AMD)
    assert (t.base.name, t.arch, t.mode.name) == ("el7", ARM, "cross")


def test_auto_falls_back_to_emulation_where_no_host_toolchain_exists_and_says_why():
    mode = choose_mode("auto", ARM, RISCV, TOOLCHAIN)
    assert mode.name == "emulate" and mode.toolchain is None
    assert mode.reason == "no host toolchain for riscv64 hosts: aarch64 under QEMU"


def test_emulate_stays_selectable_where_cross_would_work():
    assert choose_mode("emulate", ARM, AMD, TOOLCHAIN).name == "emulate"


def test_forced_cross_without_a_host_toolchain_fails_at_once_with_the_fix():
    with pytest.raises(ConfigError) as err:
        choose_mode("cross", ARM, RISCV, TOOLCHAIN)
    assert "there is no host toolchain for riscv64 hosts" in err.value.message
    assert "--mode emulate" in err.value.hint


def test_native_for_another_architecture_is_refused():
    with pytest.raises(ConfigError) as err:
        choose_mode("native", ARM, AMD, TOOLCHAIN)
    assert "this host is x86_64, the target aarch64" in err.value.message
    assert "--mode cross" in err.value.hint


def test_the_reverse_direction_works_too():
    mode = choose_mode("auto", AMD, ARM, TOOLCHAIN)
    assert mode.name == "cross" and mode.toolchain.host == ARM and mode.toolchain.image.endswith("-arm64")


def test_mode_is_a_setting_with_a_checked_value():
    assert resolve({}, {}, {}).mode == "auto"
    assert resolve({"mode": "emulate"}, {"MYSQLBUILD_MODE": "cross"}, {}).mode == "cross"
    with pytest.raises(ConfigError) as err:
        resolve({}, {}, {"mode": "fast"})
    assert "auto, native, cross, emulate" in err.value.message


@pytest.mark.parametrize("name,message", [
    ("gcc-12", "toolchain 'gcc-12' is not clang-<version>"),
    ("clang-14", "toolchain clang-14: clang 14 cannot name the base's GCC installation"),
])
def test_an_unusable_toolchain_is_refused_with_the_fix(name, message):
    with pytest.raises(ConfigError) as err:
        choose_mode("auto", ARM, AMD, name)
    assert message in err.value.message and "clang-16" in err.value.hint


def test_the_toolchain_is_named_with_its_version_for_the_host():
    mode = choose_mode("auto", ARM, AMD, "clang-19")
    tc = mode.toolchain
    assert (tc.name, tc.image, tc.prefix) == ("clang-19", "mysqlbuild/toolchain:clang-19-amd64", "/usr/lib/llvm-19")
    assert tc.packages == ("clang-19", "lld-19", "llvm-19", "ccache", "patchelf")


def test_a_base_cross_section_is_gone(tmp_path):
    """The compiler is no base's any more: a recipe that still declares one is told so."""
    recipe = copy_recipe(HELLO, tmp_path / "hello")
    edit_recipe(recipe, lambda d: d["bases"]["debian12"].update(cross={"requires": ["clang"]}))
    with pytest.raises(RecipeError) as err:
        load_recipe(str(recipe))
    assert "bases.debian12: unknown key 'cross'" in err.value.message


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
    for mode in ("cross", "emulate"):
        (t,) = load_targets(settings.with_(mode=mode), tmp_path, AMD)
        message, hint = missing_library_hint(t, "-lzstd")
        assert message == "the library -lzstd is not in the aarch64 builder image of base debian12"
        assert "libzstd.so" in hint and "libzstd-dev" in hint and "bases.debian12.build_requires" in hint
    assert "ZLIB's library and headers (its -dev or -devel package)" in missing_library_hint(t, "ZLIB")[1]


def test_mysql_turns_off_fp_contraction_in_every_mode_as_mysql_does_for_gcc(tmp_path):
    from mysqlbuild.buildercontext import builder_dockerfile
    from mysqlbuild.settings import Settings
    from mysqlbuild.target import load_targets

    assert MYSQL.codegen.flags("x86_64") == ("-ffp-contract=off",)
    for mode in ("cross", "emulate"):
        (t,) = load_targets(Settings(base="debian11", mode=mode, build_dir=str(tmp_path)), ROOT, AMD)
        assert "'mysqlbuild_codegen_flags -ffp-contract=off -moutline-atomics'" in builder_dockerfile(t)


@pytest.mark.parametrize("atomics,march,flags", [
    ("dispatch", "", ("-moutline-atomics",)),
    ("llsc", "", ("-mno-outline-atomics",)),
    ("lse", "", ("-march=armv8-a+lse",)),
    ("lse", "armv8.2-a", ("-march=armv8.2-a+lse",)),
    ("dispatch", "armv8.2-a", ("-march=armv8.2-a", "-moutline-atomics")),
])
def test_codegen_means_the_same_flags_in_every_mode(atomics, march, flags):
    from mysqlbuild.recipe import Codegen

    assert Codegen(atomics=atomics, march=march).flags("aarch64") == flags
    assert Codegen(atomics=atomics, march=march).flags("x86_64") == ()


def test_the_atomics_setting_overrides_the_recipe_for_one_build(tmp_path):
    from mysqlbuild.settings import Settings
    from mysqlbuild.target import load_targets

    (t,) = load_targets(Settings(atomics="lse", build_dir=str(tmp_path)), ROOT, AMD)
    assert t.atomics == "lse" and t.codegen_flags == ("-ffp-contract=off", "-march=armv8-a+lse")
    with pytest.raises(ConfigError) as err:
        resolve({}, {"MYSQLBUILD_ATOMICS": "fast"}, {})
    assert "atomics must be one of dispatch, lse, llsc" in err.value.message


def test_codegen_is_validated(tmp_path):
    recipe = copy_recipe(HELLO, tmp_path / "hello")
    for codegen, message in (({"flags": ["-O2 -g"]}, "codegen.flags[0]: '-O2 -g' is not one compiler option"),
                             ({"atomics": "fast"}, "codegen.atomics: 'fast' is not one of dispatch, lse, llsc"),
                             ({"march": "x86-64"}, "codegen.march: 'x86-64' is not an aarch64 -march value")):
        edit_recipe(recipe, lambda d: d.update(codegen=codegen))
        with pytest.raises(RecipeError) as err:
            load_recipe(str(recipe))
        assert message in err.value.message


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
