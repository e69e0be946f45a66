"""Recipes: what to build, from which sources, on which bases.

A recipe is a folder holding ``recipe.yaml``, the RPM spec, patches and the
image tests.  It is loaded once into frozen dataclasses; every mistake is
reported with the file, the field and what is allowed, so a user can fix it
without reading this module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from . import ROOT
from .archs import ARCHS
from .errors import RecipeError

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
FAMILIES = ("apt", "yum", "dnf")
URL_SCHEMES = ("http://", "https://", "file://")
PATCH_KINDS = ("portability", "bugfix", "backport", "feature", "packaging", "security")
ATOMICS = ("dispatch", "lse", "llsc")
DEBIAN_MIRROR = "http://deb.debian.org/debian"     # debootstrap's mirror where a recipe names none


@dataclass(frozen=True)
class Source:
    file: str
    sha256: str
    urls: tuple[str, ...]
    when: str = ""             # an rpm conditional: fetched and used only when it is on


@dataclass(frozen=True)
class Download(Source):
    """A prebuilt file copied into the image (gosu, for example), pinned per arch."""

    arch: str = ""
    dest: str = ""
    mode: str = "0755"


@dataclass(frozen=True)
class Patch:
    file: str
    reason: str
    kind: str
    path: Path


@dataclass(frozen=True)
class Version:
    version: str
    release: str
    sources: tuple[Source, ...]
    patches: tuple[Patch, ...]
    source_date_epoch: int | None


@dataclass(frozen=True)
class Debootstrap:
    suite: str
    mirror: str
    variant: str
    include: tuple[str, ...]


@dataclass(frozen=True)
class Codegen:
    """Code generation, the same in every build mode: the spec adds flags() to its own compiler flags."""

    atomics: str = "dispatch"  # aarch64: dispatch (LSE or LL/SC chosen at run time: outline atomics), lse, llsc
    march: str = ""            # aarch64 -march (empty: the compiler's default, armv8-a)
    flags_all: tuple[str, ...] = ()   # options for every architecture and compiler (recipe.yaml codegen.flags)

    def flags(self, rpm_arch: str, atomics: str = "") -> tuple[str, ...]:
        """The compiler options for `rpm_arch`; `atomics` overrides the recipe's choice."""
        if rpm_arch != "aarch64":
            return self.flags_all
        atomics = atomics or self.atomics
        if atomics == "lse":
            return self.flags_all + (f"-march={self.march or 'armv8-a'}+lse",)
        march = (f"-march={self.march}",) if self.march else ()
        return self.flags_all + march + ("-moutline-atomics" if atomics == "dispatch" else "-mno-outline-atomics",)


@dataclass(frozen=True)
class Base:
    name: str
    family: str
    builder: str
    runtime: str
    build_requires: tuple[str, ...]
    runtime_requires: tuple[str, ...]
    setup: tuple[str, ...]
    debootstrap: Debootstrap | None

    def builder_image(self, arch: str) -> str:
        return self.builder.replace("{arch}", arch)

    def runtime_image(self, arch: str) -> str:
        return self.runtime.replace("{arch}", arch)


@dataclass(frozen=True)
class ImageFile:
    src: Path
    dest: str
    mode: str


@dataclass(frozen=True)
class Healthcheck:
    cmd: tuple[str, ...]
    interval: str
    timeout: str
    retries: int
    start_period: str


@dataclass(frozen=True)
class Image:
    name: str
    packages: tuple[str, ...]
    user: dict[str, Any] | None
    setup: tuple[str, ...]
    files: tuple[ImageFile, ...]
    downloads: tuple[Download, ...]
    env: tuple[tuple[str, str], ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    volumes: tuple[str, ...]
    expose: tuple[int, ...]
    healthcheck: Healthcheck | None
    stopsignal: str
    run_example: str           # how to run it, printed by install.sh; {tag} is the image tag


@dataclass(frozen=True)
class RpmOptions:
    conditionals: tuple[tuple[str, bool], ...]
    defines: tuple[tuple[str, str], ...]
    check_elf_align: bool
    forbid_libs: tuple[str, ...]


@dataclass(frozen=True)
class KnownFailure:
    """A test of MySQL's suite that fails for a known reason; it does not fail a run."""

    test: str                  # suite.test, as mysql-test-run.pl names it (without a combination)
    reason: str
    when: str = "always"       # always, or emulated: only when the tests run under QEMU


@dataclass(frozen=True)
class MtrSelection:
    name: str
    description: str
    suites: tuple[str, ...]    # whole suites
    tests: tuple[str, ...]     # single tests, suite.test


@dataclass(frozen=True)
class Mtr:
    """How `invoke mtr` runs the recipe's own test suite (mysql-test-run.pl) against the built RPMs."""

    packages: tuple[str, ...]          # the built RPMs installed, the test package among them
    requires: dict[str, tuple[str, ...]] = field(hash=False)   # per package family: what the tests need besides
    testdir: str = ""                  # where the test package puts mysql-test-run.pl and the suites
    runner: str = "mysql-test-run.pl"
    options: tuple[str, ...] = ()           # mysql-test-run.pl options of every run
    emulated_options: tuple[str, ...] = ()  # and of runs under QEMU
    default_selection: str = ""
    selections: dict[str, MtrSelection] = field(default_factory=dict, hash=False)
    known_failures: tuple[KnownFailure, ...] = ()


MTR_WHEN = ("always", "emulated")
TEST_NAME_RE = re.compile(r"^[\w-]+\.[\w.-]+$")


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    path: Path                 # the recipe folder
    spec: Path
    default_version: str
    default_base: str
    versions: dict[str, Version] = field(hash=False)
    bases: dict[str, Base] = field(hash=False)
    rpm: RpmOptions
    image: Image
    tests: Path | None
    mtr: Mtr | None = None
    codegen: Codegen = Codegen()
    measured: dict[str, str] = field(default_factory=dict, hash=False)   # mode -> the rpms stage's measured time

    @property
    def file(self) -> Path:
        return self.path / "recipe.yaml"

    def version(self, version: str | None) -> Version:
        key = version or self.default_version
        if key not in self.versions:
            raise RecipeError(
                f"version {key!r} is not in {self.file}",
                f"available versions: {', '.join(self.versions)}; add it to 'versions' with its sources and sha256")
        return self.versions[key]

    def base(self, name: str | None) -> Base:
        key = name or self.default_base
        if key not in self.bases:
            raise RecipeError(
                f"base {key!r} is not in {self.file}",
                f"available bases: {', '.join(self.bases)}; or declare a new one under 'bases'")
        return self.bases[key]

    def conditionals(self, overrides: dict[str, bool] | None = None) -> dict[str, bool]:
        values = dict(self.rpm.conditionals)
        for key, value in (overrides or {}).items():
            if key not in values:
                raise RecipeError(
                    f"{self.file}: no rpm conditional named {key!r}",
                    f"conditionals of this recipe: {', '.join(values) or '(none)'}")
            values[key] = value
        return values


# --- validation helpers ------------------------------------------------------

class _Node:
    """A mapping being read, which remembers where it is for error messages."""

    def __init__(self, data: Any, where: str, file: Path):
        self.file = file
        self.where = where
        if not isinstance(data, dict):
            self.fail(f"must be a mapping, found {_kind(data)}")
        self.data = data

    def fail(self, message: str, hint: str | None = None) -> None:
        place = f"{self.file}: {self.where}" if self.where else str(self.file)
        raise RecipeError(f"{place}: {message}", hint)

    def child_where(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def check_keys(self, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
        allowed = required + optional
        for key in self.data:
            if key not in allowed:
                self.fail(f"unknown key {key!r}", f"allowed keys here: {', '.join(allowed)}")
        for key in required:
            if key not in self.data:
                self.fail(f"missing required key {key!r}", f"allowed keys here: {', '.join(allowed)}")

    def text(self, key: str, default: str | None = None, *, pattern: re.Pattern | None = None,
            what: str = "") -> str:
        value = self.data.get(key, default)
        if value is None:
            self.fail(f"missing required key {key!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.fail_at(key, f"must be a non-empty string, found {_kind(value)}")
        if pattern is not None and not pattern.match(value):
            self.fail_at(key, f"{value!r} is not {what}")
        return value

    def integer(self, key: str, default: int | None = None) -> int | None:
        value = self.data.get(key, default)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail_at(key, f"must be an integer, found {_kind(value)}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.fail_at(key, f"must be true or false, found {_kind(value)}")
        return value

    def items(self, key: str, *, required: bool = False, item: Callable[[Any, str], Any] | None = None) -> tuple:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"missing required key {key!r}")
            return ()
        if not isinstance(value, list):
            self.fail_at(key, f"must be a list, found {_kind(value)}")
        if required and not value:
            self.fail_at(key, "must list at least one entry")
        out = []
        for index, entry in enumerate(value):
            where = f"{self.child_where(key)}[{index}]"
            if item is not None:
                out.append(item(entry, where))
            else:
                if isinstance(entry, bool) or not isinstance(entry, (str, int)) or str(entry).strip() == "":
                    raise RecipeError(f"{self.file}: {where}: must be a non-empty string, found {_kind(entry)}")
                out.append(str(entry))
        return tuple(out)

    def node(self, key: str, *, required: bool = True) -> "_Node | None":
        if key not in self.data:
            if required:
                self.fail(f"missing required key {key!r}")
            return None
        return _Node(self.data[key], self.child_where(key), self.file)

    def fail_at(self, key: str, message: str, hint: str | None = None) -> None:
        place = f"{self.file}: {self.child_where(key)}"
        raise RecipeError(f"{place}: {message}", hint)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _relative_file(recipe_dir: Path, node: _Node, key: str) -> Path:
    rel = node.text(key)
    path = (recipe_dir / rel).resolve()
    if not path.is_file():
        node.fail_at(key, f"file {rel!r} not found (looked at {path})",
                     "paths in a recipe are relative to the recipe folder")
    return path


def _urls(node: _Node) -> tuple[str, ...]:
    urls = node.items("urls", required=True)
    for index, url in enumerate(urls):
        if not url.startswith(URL_SCHEMES):
            raise RecipeError(
                f"{node.file}: {node.child_where('urls')}[{index}]: {url!r} is not a URL",
                f"allowed schemes: {', '.join(URL_SCHEMES)}")
    return urls


def _sha256(node: _Node) -> str:
    value = node.text("sha256")
    if not SHA256_RE.match(value):
        node.fail_at("sha256", f"{value!r} is not a sha256",
                     "a sha256 is 64 lowercase hexadecimal digits, as printed by sha256sum")
    return value


def _file_name(node: _Node) -> str:
    value = node.text("file")
    if "/" in value or value in (".", ".."):
        node.fail_at("file", f"{value!r} must be a plain file name, without folders")
    return value


def _source(file: Path):
    def read(data: Any, where: str) -> Source:
        node = _Node(data, where, file)
        node.check_keys(("file", "sha256", "urls"), ("when",))
        when = node.text("when") if "when" in node.data else ""
        return Source(file=_file_name(node), sha256=_sha256(node), urls=_urls(node), when=when)
    return read


def _download(file: Path):
    def read(data: Any, where: str) -> Download:
        node = _Node(data, where, file)
        node.check_keys(("file", "sha256", "urls", "arch", "dest"), ("mode",))
        arch = node.text("arch")
        if arch not in ARCHS:
            node.fail_at("arch", f"{arch!r} is not a known architecture", f"allowed: {', '.join(ARCHS)}")
        return Download(file=_file_name(node), sha256=_sha256(node), urls=_urls(node), arch=arch,
                        dest=_abs_path(node, "dest"), mode=_mode(node))
    return read


def _abs_path(node: _Node, key: str) -> str:
    value = node.text(key)
    if not value.startswith("/"):
        node.fail_at(key, f"{value!r} must be an absolute path inside the image")
    return value


def _mode(node: _Node) -> str:
    value = node.text("mode", "0644")
    if not re.match(r"^0?[0-7]{3,4}$", value):
        node.fail_at("mode", f"{value!r} is not an octal file mode", "write it as a quoted string, e.g. \"0755\"")
    return value


def _patch(recipe_dir: Path, file: Path):
    def read(data: Any, where: str) -> Patch:
        node = _Node(data, where, file)
        node.check_keys(("file", "reason"), ("kind",))
        path = _relative_file(recipe_dir, node, "file")
        reason = node.text("reason")
        if "\n" in reason.strip():
            node.fail_at("reason", "must be one line: why the patch exists and where it came from")
        kind = node.text("kind", "portability")
        if kind not in PATCH_KINDS:
            node.fail_at("kind", f"{kind!r} is not a patch kind", f"allowed: {', '.join(PATCH_KINDS)}")
        return Patch(file=node.text("file"), reason=reason.strip(), kind=kind, path=path)
    return read


def _version(recipe_dir: Path, file: Path, name: str, data: Any) -> Version:
    node = _Node(data, f"versions.{name}", file)
    node.check_keys(("sources",), ("release", "patches", "source_date_epoch"))
    sources = node.items("sources", required=True, item=_source(file))
    names = [s.file for s in sources]
    if len(set(names)) != len(names):
        node.fail_at("sources", "two sources have the same file name")
    epoch = node.integer("source_date_epoch")
    if epoch is not None and epoch <= 0:
        node.fail_at("source_date_epoch", "must be a positive Unix time")
    release = node.text("release", "1")
    if not re.match(r"^[0-9A-Za-z._+~]+$", release):
        node.fail_at("release", f"{release!r} is not a valid RPM release (no '-' or spaces)")
    return Version(version=name, release=release,
                   sources=sources,
                   patches=node.items("patches", item=_patch(recipe_dir, file)),
                   source_date_epoch=epoch)


def _base(file: Path, name: str, data: Any) -> Base:
    node = _Node(data, f"bases.{name}", file)
    node.check_keys(("family", "builder", "runtime", "build_requires"),
                    ("runtime_requires", "setup", "debootstrap"))
    family = node.text("family")
    if family not in FAMILIES:
        node.fail_at("family", f"{family!r} is not a package family",
                     f"allowed: {', '.join(FAMILIES)} (yum: EL7; dnf: openEuler, Kylin V10, EL8+; apt: Debian)")
    boot = None
    boot_node = node.node("debootstrap", required=False)
    if boot_node is not None:
        if family != "apt":
            node.fail_at("debootstrap", "only an apt-family base can be made by debootstrap",
                         "make other bases with `invoke base --rootfs` from a root filesystem")
        boot_node.check_keys(("suite",), ("mirror", "variant", "include"))
        boot = Debootstrap(suite=boot_node.text("suite"),
                           mirror=boot_node.text("mirror", DEBIAN_MIRROR),
                           variant=boot_node.text("variant", "minbase"),
                           include=boot_node.items("include"))
    return Base(name=name, family=family, builder=node.text("builder"), runtime=node.text("runtime"),
                build_requires=node.items("build_requires", required=True),
                runtime_requires=node.items("runtime_requires"),
                setup=node.items("setup"), debootstrap=boot)


def _image(recipe_dir: Path, file: Path, node: _Node, default_name: str) -> Image:
    node.check_keys((), ("name", "packages", "user", "setup", "files", "downloads", "env", "entrypoint",
                         "cmd", "volumes", "expose", "healthcheck", "stopsignal", "run_example"))

    def image_file(data: Any, where: str) -> ImageFile:
        sub = _Node(data, where, file)
        sub.check_keys(("src", "dest"), ("mode",))
        return ImageFile(src=_relative_file(recipe_dir, sub, "src"), dest=_abs_path(sub, "dest"),
                         mode=_mode(sub))

    def port(data: Any, where: str) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or not 0 < data < 65536:
            raise RecipeError(f"{file}: {where}: {data!r} is not a TCP port")
        return data

    user = None
    user_node = node.node("user", required=False)
    if user_node is not None:
        user_node.check_keys(("name", "uid", "gid"))
        user = {"name": user_node.text("name", pattern=NAME_RE, what="a user name"),
                "uid": user_node.integer("uid"), "gid": user_node.integer("gid")}
    env_node = node.node("env", required=False)
    env: tuple[tuple[str, str], ...] = ()
    if env_node is not None:
        for key in env_node.data:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(key)):
                env_node.fail_at(str(key), "is not a valid environment variable name")
        env = tuple((str(k), env_node.text(k)) for k in env_node.data)
    health = None
    health_node = node.node("healthcheck", required=False)
    if health_node is not None:
        health_node.check_keys(("cmd",), ("interval", "timeout", "retries", "start_period"))
        health = Healthcheck(cmd=health_node.items("cmd", required=True),
                             interval=health_node.text("interval", "10s"),
                             timeout=health_node.text("timeout", "5s"),
                             retries=health_node.integer("retries", 3) or 3,
                             start_period=health_node.text("start_period", "0s"))
    return Image(
        name=node.text("name", default_name, pattern=re.compile(r"^[a-z0-9][a-z0-9._/-]*$"),
                      what="a valid image repository name"),
        packages=node.items("packages"), user=user, setup=node.items("setup"),
        files=node.items("files", item=image_file), downloads=node.items("downloads", item=_download(file)),
        env=env, entrypoint=node.items("entrypoint"), cmd=node.items("cmd"), volumes=node.items("volumes"),
        expose=node.items("expose", item=port), healthcheck=health,
        stopsignal=node.text("stopsignal", "SIGTERM"),
        run_example=node.text("run_example", "docker run --rm {tag}"))


def _rpm(file: Path, node: _Node | None) -> RpmOptions:
    if node is None:
        return RpmOptions(conditionals=(), defines=(), check_elf_align=True, forbid_libs=())
    node.check_keys((), ("conditionals", "defines", "check_elf_align", "forbid_libs"))
    conds: list[tuple[str, bool]] = []
    cond_node = node.node("conditionals", required=False)
    if cond_node is not None:
        for key in cond_node.data:
            if not re.match(r"^[a-z][a-z0-9_]*$", str(key)):
                cond_node.fail_at(str(key), "is not a valid rpm conditional name (lowercase, digits, _)")
            conds.append((str(key), cond_node.flag(str(key), False)))
    defines: list[tuple[str, str]] = []
    def_node = node.node("defines", required=False)
    if def_node is not None:
        defines = [(str(k), def_node.text(k)) for k in def_node.data]
    return RpmOptions(conditionals=tuple(conds), defines=tuple(defines),
                      check_elf_align=node.flag("check_elf_align", True),
                      forbid_libs=node.items("forbid_libs"))


RECIPE_KEYS_REQUIRED = ("name", "default_version", "default_base", "spec", "versions", "bases")
RECIPE_KEYS_OPTIONAL = ("summary", "rpm", "image", "tests", "mtr", "codegen", "measured")
MODE_NAMES = ("native", "cross", "emulate")


def _codegen(node: _Node | None) -> Codegen:
    if node is None:
        return Codegen()
    node.check_keys((), ("atomics", "march", "flags"))
    atomics = node.text("atomics", "dispatch")
    if atomics not in ATOMICS:
        node.fail_at("atomics", f"{atomics!r} is not one of {', '.join(ATOMICS)}",
                     "dispatch: LSE where the CPU has it, chosen at run time; lse: ARMv8.1 and later only; "
                     "llsc: load/store-exclusive loops only")
    march = node.text("march") if "march" in node.data else ""
    if march and not re.match(r"^armv8(\.[0-9])?-a(\+[a-z0-9]+)*$", march):
        node.fail_at("march", f"{march!r} is not an aarch64 -march value", "e.g. armv8-a, armv8.2-a")
    flags = node.items("flags")
    for index, flag in enumerate(flags):
        if not flag.startswith("-") or " " in flag:
            raise RecipeError(f"{node.file}: {node.child_where('flags')}[{index}]: {flag!r} is not one compiler option")
    return Codegen(atomics=atomics, march=march, flags_all=flags)


def _measured(node: _Node | None) -> dict[str, str]:
    if node is None:
        return {}
    for key in node.data:
        if key not in MODE_NAMES:
            node.fail_at(str(key), f"{key!r} is not a build mode", f"modes: {', '.join(MODE_NAMES)}")
    return {str(key): node.text(str(key)) for key in node.data}


def _mtr(file: Path, node: _Node | None) -> Mtr | None:
    if node is None:
        return None
    node.check_keys(("packages", "testdir", "selections", "default_selection"),
                    ("requires", "runner", "options", "emulated_options", "known_failures"))
    selections = {}
    sel_node = node.node("selections")
    if not sel_node.data:
        sel_node.fail("must name at least one selection of tests")
    for key in sel_node.data:
        sub = sel_node.node(str(key))
        sub.check_keys(("description",), ("suites", "tests"))
        suites, tests = sub.items("suites"), sub.items("tests")
        if not suites and not tests:
            sub.fail("must list suites, tests or both")
        for index, name in enumerate(tests):
            if not TEST_NAME_RE.match(name):
                raise RecipeError(f"{file}: {sub.child_where('tests')}[{index}]: {name!r} is not suite.test")
        selections[str(key)] = MtrSelection(str(key), sub.text("description"), suites, tests)
    default = node.text("default_selection")
    if default not in selections:
        node.fail_at("default_selection", f"{default!r} is not one of the selections",
                     f"selections: {', '.join(selections)}")

    def known(data: Any, where: str) -> KnownFailure:
        sub = _Node(data, where, file)
        sub.check_keys(("test", "reason"), ("when",))
        test = sub.text("test", pattern=TEST_NAME_RE, what="suite.test")
        when = sub.text("when", "always")
        if when not in MTR_WHEN:
            sub.fail_at("when", f"{when!r} is not one of {', '.join(MTR_WHEN)}")
        return KnownFailure(test, sub.text("reason").strip(), when)

    requires: dict[str, tuple[str, ...]] = {}
    req_node = node.node("requires", required=False)
    if req_node is not None:
        for family in req_node.data:
            if family not in FAMILIES:
                req_node.fail_at(str(family), f"{family!r} is not a package family", f"allowed: {', '.join(FAMILIES)}")
            requires[str(family)] = req_node.items(str(family))
    testdir = node.text("testdir")
    if not testdir.startswith("/"):
        node.fail_at("testdir", f"{testdir!r} must be an absolute path inside the image")
    return Mtr(packages=node.items("packages", required=True), requires=requires, testdir=testdir,
               runner=node.text("runner", "mysql-test-run.pl"), options=node.items("options"),
               emulated_options=node.items("emulated_options"), default_selection=default,
               selections=selections, known_failures=node.items("known_failures", item=known))


def resolve_recipe_dir(name_or_path: str, recipes_dir: Path) -> Path:
    """`--recipe` takes a name under recipes/ or a path to a recipe folder."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file() and candidate.name == "recipe.yaml":
        candidate = candidate.parent
    if (candidate / "recipe.yaml").is_file():
        return candidate.resolve()
    if "/" not in name_or_path and (recipes_dir / name_or_path / "recipe.yaml").is_file():
        return (recipes_dir / name_or_path).resolve()
    known = sorted(p.parent.name for p in recipes_dir.glob("*/recipe.yaml")) if recipes_dir.is_dir() else []
    raise RecipeError(
        f"no recipe {name_or_path!r}: neither {recipes_dir / name_or_path} nor {candidate} holds a recipe.yaml",
        f"recipes under {recipes_dir}: {', '.join(known) or '(none)'}; or pass the path of a recipe folder")


def load_recipe(name_or_path: str | Path, recipes_dir: Path | None = None) -> Recipe:
    recipes_dir = recipes_dir or ROOT / "recipes"
    recipe_dir = resolve_recipe_dir(str(name_or_path), recipes_dir)
    file = recipe_dir / "recipe.yaml"
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipeError(f"{file}: not valid YAML: {exc}", "fix the syntax at the line shown") from None
    root = _Node(data, "", file)
    root.check_keys(RECIPE_KEYS_REQUIRED, RECIPE_KEYS_OPTIONAL)
    name = root.text("name", pattern=NAME_RE, what="a valid recipe name (lowercase letters, digits, . _ -)")

    versions_node = root.node("versions")
    if not versions_node.data:
        versions_node.fail("must list at least one version")
    versions = {}
    for key, value in versions_node.data.items():
        vkey = str(key)
        if not re.match(r"^[0-9A-Za-z._+~]+$", vkey):
            versions_node.fail_at(vkey, "is not a valid version (digits, letters, . _ + ~)")
        versions[vkey] = _version(recipe_dir, file, vkey, value)

    bases_node = root.node("bases")
    if not bases_node.data:
        bases_node.fail("must list at least one base")
    bases = {str(k): _base(file, str(k), v) for k, v in bases_node.data.items()}

    default_version = root.text("default_version")
    if default_version not in versions:
        root.fail_at("default_version", f"{default_version!r} is not one of the versions",
                     f"versions: {', '.join(versions)}")
    default_base = root.text("default_base")
    if default_base not in bases:
        root.fail_at("default_base", f"{default_base!r} is not one of the bases", f"bases: {', '.join(bases)}")

    image_node = root.node("image", required=False) or _Node({}, "image", file)
    tests = None
    if "tests" in root.data:
        tests = (recipe_dir / root.text("tests")).resolve()
        if not tests.is_dir():
            root.fail_at("tests", f"folder {root.text('tests')!r} not found (looked at {tests})")
    rpm = _rpm(file, root.node("rpm", required=False))
    _check_when(file, versions, rpm)
    return Recipe(
        name=name, summary=root.text("summary", name), path=recipe_dir,
        spec=_relative_file(recipe_dir, root, "spec"),
        default_version=default_version, default_base=default_base,
        versions=versions, bases=bases, rpm=rpm,
        image=_image(recipe_dir, file, image_node, name), tests=tests,
        mtr=_mtr(file, root.node("mtr", required=False)),
        codegen=_codegen(root.node("codegen", required=False)),
        measured=_measured(root.node("measured", required=False)))


def _check_when(file: Path, versions: dict[str, Version], rpm: RpmOptions) -> None:
    """A source's `when` must name one of the recipe's rpm conditionals."""
    names = [name for name, _ in rpm.conditionals]
    for key, version in versions.items():
        for index, source in enumerate(version.sources):
            if source.when and source.when not in names:
                raise RecipeError(
                    f"{file}: versions.{key}.sources[{index}].when: {source.when!r} is not an rpm conditional",
                    f"conditionals of this recipe (rpm.conditionals): {', '.join(names) or '(none)'}")
