"""Recipes: what to build, from which sources, on which bases.

A recipe is a folder holding ``recipe.yaml``, the RPM spec, patches and the
image tests.  This module owns its schema and the objects made from it:

- the frozen dataclasses the pipeline uses (Recipe, Version, Source, Base,
  Image, Mtr, ...), made once per load;
- the models of recipe.yaml as it is written (the ``*Yaml`` classes): each
  key with its type, default, check and description, declared once.  Each
  model's ``make()`` turns a validated entry into its dataclass: names come
  from their keys, paths are resolved in the recipe folder.  The published
  schema/recipe.schema.json is generated from them (schemas.py;
  docs/recipe-schema.md), so editors complete and check recipes too.

Every mistake is reported with the file, the key path, what is allowed and
what was found (yamlmodel.py), so a user can fix it without reading this module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Dict, Tuple

from pydantic import StrictBool, StrictInt, ValidationInfo, model_validator

from . import ROOT
from .archs import ARCHS
from .errors import RecipeError
from .yamlmodel import (Check, Entries, FileName, Model, Names, NonEmptyNames, Sha256, Text, Urls, fail,
                        must_name_one_of, read)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
FAMILIES = ("apt", "yum", "dnf")
PATCH_KINDS = ("portability", "bugfix", "backport", "feature", "packaging", "security")
ATOMICS = ("dispatch", "lse", "llsc")
DEBIAN_MIRROR = "http://deb.debian.org/debian"     # debootstrap's mirror where a recipe names none
MTR_WHEN = ("always", "emulated")
TEST_NAME_RE = re.compile(r"^[\w-]+\.[\w.-]+$")
MODE_NAMES = ("native", "cross", "emulate")


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




@dataclass(frozen=True)
class Host:
    """A host that installs the RPMs with yum or dnf from a repository (invoke repo, the bundle's install.sh)."""

    packages: tuple[str, ...]  # what `yum install` is given; the rest comes as their requirements
    start: str                 # how to start the server once installed, printed by install.sh (empty: nothing)


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
    host: Host = Host(packages=(), start="")

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


# --- recipe.yaml as it is written -------------------------------------------------------------

FAMILY_HINT = f"allowed: {', '.join(FAMILIES)} (yum: EL7; dnf: openEuler, Kylin V10, EL8+; apt: Debian)"
Family = Annotated[Text, Check.one_of(FAMILIES, "{value!r} is not a package family", FAMILY_HINT)]
Release = Annotated[Text, Check.pattern(r"^[0-9A-Za-z._+~]+$",
                                        "{value!r} is not a valid RPM release (no '-' or spaces)")]
ImagePath = Annotated[Text, Check.pattern(r"^/", "{value!r} must be an absolute path inside the image")]
FileMode = Annotated[Text, Check.pattern(r"^0?[0-7]{3,4}$", "{value!r} is not an octal file mode",
                                         'write it as a quoted string, e.g. "0755"')]
TestName = Annotated[Text, Check.pattern(TEST_NAME_RE.pattern, "{value!r} is not suite.test")]


class SourceYaml(Model):
    """A source file: downloaded from the first URL that answers, kept only when its sha256 matches."""

    file: FileName
    """Its file name (no folders): rpmbuild's SOURCES and the cache know it by this name."""
    sha256: Sha256
    """Its sha256, as sha256sum prints it: any other file is refused."""
    urls: Urls
    """Where to download it, tried in order (http://, https:// or file://); a --mirror is tried first."""
    when: Text = ""
    """An rpm conditional (rpm.conditionals): the file is fetched and used only when it is on."""

    def make(self) -> Source:
        return Source(self.file, self.sha256, self.urls, self.when)


class PatchYaml(Model):
    """A patch the spec applies, with why it exists."""

    file: Text
    """The patch file, relative to the recipe folder."""
    reason: Annotated[Text, Check(lambda value: "\n" not in value.strip(),
                                  "must be one line: why the patch exists and where it came from",
                                  pattern=r"^\s*[^\n]*\s*$")]
    """One line: why the patch exists and where it came from."""
    kind: Annotated[Text, Check.one_of(PATCH_KINDS, "{value!r} is not a patch kind",
                                       f"allowed: {', '.join(PATCH_KINDS)}")] = "portability"
    """What sort of change it is."""

    def make(self, folder: Path) -> Patch:
        return Patch(file=self.file, reason=self.reason.strip(), kind=self.kind, path=(folder / self.file).resolve())


class VersionYaml(Model):
    """One version of the software: its sources, patches and RPM release."""

    sources: Annotated[Tuple[SourceYaml, ...], Check.not_empty("must list at least one entry", minItems=1)]
    """The source files; the first is the main tarball."""
    release: Release = "1"
    """The RPM release of the packages made from this version."""
    patches: Entries[PatchYaml] = ()
    """Patches, applied in this order."""
    source_date_epoch: Annotated[StrictInt, Check(lambda value: value > 0, "must be a positive Unix time",
                                                  exclusiveMinimum=0)] = None
    """A Unix time: RPM build times and file dates come from it, so two builds give the same payloads."""

    @model_validator(mode="after")
    def _distinct_files(self) -> "VersionYaml":
        names = [s.file for s in self.sources]
        if len(set(names)) != len(names):
            fail("two sources have the same file name", at=("sources",))
        return self

    def make(self, version: str, folder: Path) -> Version:
        return Version(version=version, release=self.release, sources=tuple(s.make() for s in self.sources),
                       patches=tuple(p.make(folder) for p in self.patches), source_date_epoch=self.source_date_epoch)


class DebootstrapYaml(Model):
    """How `invoke base` makes this base by debootstrap (apt bases only)."""

    suite: Text
    """The Debian suite, e.g. bookworm."""
    mirror: Text = DEBIAN_MIRROR
    """The Debian mirror debootstrap downloads from."""
    variant: Text = "minbase"
    """debootstrap's --variant."""
    include: Names = ()
    """Further packages debootstrap installs."""

    def make(self) -> Debootstrap:
        return Debootstrap(suite=self.suite, mirror=self.mirror, variant=self.variant, include=self.include)


class BaseYaml(Model):
    """A distribution the RPMs are built on and the image runs on."""

    family: Family
    """Its package manager: yum (EL7), dnf (openEuler, Kylin V10, EL8+) or apt (Debian)."""
    builder: Text
    """The image the RPMs are built in; {arch} becomes the Docker architecture (arm64, amd64)."""
    runtime: Text
    """The image the runtime image starts from; {arch} as in builder."""
    build_requires: NonEmptyNames
    """Packages installed into the builder (the spec's BuildRequires, in this base's names)."""
    runtime_requires: Names = ()
    """Packages of the base installed with the RPMs, into the runtime image and mtr's container."""
    setup: Names = ()
    """Shell commands run in the builder before the build requirements are installed."""
    debootstrap: DebootstrapYaml = None
    """Make this base with debootstrap (apt family only)."""

    @model_validator(mode="after")
    def _debootstrap_is_apt(self) -> "BaseYaml":
        if self.debootstrap is not None and self.family != "apt":
            fail("only an apt-family base can be made by debootstrap",
                 "make other bases with `invoke base --rootfs` from a root filesystem", at=("debootstrap",))
        return self

    def make(self, name: str) -> Base:
        return Base(name=name, family=self.family, builder=self.builder, runtime=self.runtime,
                    build_requires=self.build_requires, runtime_requires=self.runtime_requires, setup=self.setup,
                    debootstrap=self.debootstrap.make() if self.debootstrap else None)


class ImageFileYaml(Model):
    """A file of the recipe's folder copied into the image."""

    src: Text
    """The file, relative to the recipe folder."""
    dest: ImagePath
    """Where it goes in the image."""
    mode: FileMode = "0644"
    """Its mode, as a quoted octal string."""

    def make(self, folder: Path) -> ImageFile:
        return ImageFile(src=(folder / self.src).resolve(), dest=self.dest, mode=self.mode)


class DownloadYaml(Model):
    """A prebuilt file copied into the image (gosu, for example), pinned per architecture."""

    file: FileName
    """Its file name in the cache."""
    sha256: Sha256
    """Its sha256: checked when fetched and again when the image is built."""
    urls: Urls
    """Where to download it, tried in order."""
    arch: Annotated[Text, Check.one_of(ARCHS, "{value!r} is not a known architecture", f"allowed: {', '.join(ARCHS)}")]
    """The architecture whose image gets it."""
    dest: ImagePath
    """Where it goes in the image."""
    mode: FileMode = "0644"
    """Its mode, as a quoted octal string."""

    def make(self) -> Download:
        return Download(file=self.file, sha256=self.sha256, urls=self.urls, arch=self.arch, dest=self.dest,
                        mode=self.mode)


class UserYaml(Model):
    """The user made in the image before the RPMs are installed."""

    name: Annotated[Text, Check.pattern(NAME_RE.pattern, "{value!r} is not a user name")]
    """The user's name."""
    uid: StrictInt
    """Its numeric user id (the official mysql image: 999)."""
    gid: StrictInt
    """Its group's numeric id."""


class HealthcheckYaml(Model):
    """The image's HEALTHCHECK."""

    cmd: NonEmptyNames
    """The command, as a list."""
    interval: Text = "10s"
    """Time between checks."""
    timeout: Text = "5s"
    """Time one check may take."""
    retries: StrictInt = 3
    """Failed checks in a row that make the container unhealthy."""
    start_period: Text = "0s"
    """Time after the start during which failures do not count (the first start initialises)."""

    def make(self) -> Healthcheck:
        return Healthcheck(cmd=self.cmd, interval=self.interval, timeout=self.timeout, retries=self.retries or 3,
                           start_period=self.start_period)


class ImageYaml(Model):
    """The runtime image made from the RPMs."""

    name: Annotated[Text, Check.pattern(r"^[a-z0-9][a-z0-9._/-]*$",
                                                 "{value!r} is not a valid image repository name")] = None
    """The image's repository name (default: the recipe's name)."""
    packages: Names = ()
    """The built RPMs installed into it (none listed: every built RPM)."""
    user: UserYaml = None
    """A user made before the RPMs are installed, so that it gets fixed ids."""
    setup: Names = ()
    """Shell commands run after the RPMs are installed."""
    files: Entries[ImageFileYaml] = ()
    """Files of the recipe's folder copied into the image."""
    downloads: Entries[DownloadYaml] = ()
    """Prebuilt files downloaded, checked and copied into the image of their architecture."""
    env: Dict[Annotated[Text, Check.pattern(r"^[A-Za-z_][A-Za-z0-9_]*$",
                                            "is not a valid environment variable name")], Text] = {}
    """ENV: variable name to value."""
    entrypoint: Names = ()
    """ENTRYPOINT, as a list."""
    cmd: Names = ()
    """CMD, as a list."""
    volumes: Names = ()
    """VOLUME: folders in the image."""
    expose: Entries[Annotated[StrictInt, Check(lambda value: 0 < value < 65536, "{value!r} is not a TCP port",
                                               minimum=1, maximum=65535)]] = ()
    """TCP ports."""
    healthcheck: HealthcheckYaml = None
    """HEALTHCHECK (none when left out)."""
    stopsignal: Text = "SIGTERM"
    """STOPSIGNAL."""
    run_example: Text = "docker run --rm {tag}"
    """How to run the image, printed by the offline bundle's install.sh; {tag} is the image's tag."""

    def make(self, folder: Path, default_name: str) -> Image:
        user = {"name": self.user.name, "uid": self.user.uid, "gid": self.user.gid} if self.user else None
        return Image(name=self.name or default_name, packages=self.packages, user=user, setup=self.setup,
                     files=tuple(f.make(folder) for f in self.files), downloads=tuple(d.make() for d in self.downloads),
                     env=tuple(self.env.items()), entrypoint=self.entrypoint, cmd=self.cmd, volumes=self.volumes,
                     expose=self.expose, healthcheck=self.healthcheck.make() if self.healthcheck else None,
                     stopsignal=self.stopsignal, run_example=self.run_example)


class RpmYaml(Model):
    """rpmbuild's switches and the checks of the RPMs it makes."""

    conditionals: Dict[Annotated[Text, Check.pattern(r"^[a-z][a-z0-9_]*$",
                                                     "is not a valid rpm conditional name (lowercase, digits, _)")],
                       StrictBool] = {}
    """The spec's --with/--without switches and whether each is on by default."""
    defines: Dict[str, Text] = {}
    """Macros passed to rpmbuild with --define."""
    check_elf_align: StrictBool = True
    """Check that every ELF LOAD segment is 64K-aligned (for 64K-page kernels)."""
    forbid_libs: Names = ()
    """Libraries no built file may link (e.g. libjemalloc)."""

    def make(self) -> RpmOptions:
        return RpmOptions(conditionals=tuple(self.conditionals.items()), defines=tuple(self.defines.items()),
                          check_elf_align=self.check_elf_align, forbid_libs=self.forbid_libs)


class HostYaml(Model):
    """A host that installs the RPMs with yum or dnf from their repository (invoke repo, install.sh --rpms)."""

    packages: Names = ()
    """The packages yum or dnf is asked to install; their requirements come along (default: the image's
    packages)."""
    start: Text = None
    """How to start the server once installed (a shell line, e.g. systemctl start mysqld), printed by
    install.sh."""


class CodegenYaml(Model):
    """aarch64 code generation, the same in every build mode."""

    atomics: Annotated[Text, Check.one_of(
        ATOMICS, "{value!r} is not one of dispatch, lse, llsc",
        "dispatch: LSE where the CPU has it, chosen at run time; lse: ARMv8.1 and later only; "
        "llsc: load/store-exclusive loops only")] = "dispatch"
    """aarch64 atomics: dispatch (LSE or LL/SC chosen at run time), lse (ARMv8.1 and later) or llsc."""
    march: Annotated[Text, Check.pattern(r"^armv8(\.[0-9])?-a(\+[a-z0-9]+)*$",
                                         "{value!r} is not an aarch64 -march value", "e.g. armv8-a, armv8.2-a")] = ""
    """aarch64 -march (default: the compiler's, armv8-a)."""
    flags: Entries[Annotated[Text, Check(lambda value: value.startswith("-") and " " not in value,
                                         "{value!r} is not one compiler option", pattern="^-[^ ]*$")]] = ()
    """Compiler options for every architecture and compiler, one option per entry."""

    def make(self) -> Codegen:
        return Codegen(atomics=self.atomics, march=self.march, flags_all=self.flags)


class MtrSelectionYaml(Model):
    """A named selection of MySQL's tests."""

    description: Text
    """What it covers, and how long it takes."""
    suites: Names = ()
    """Whole suites."""
    tests: Entries[TestName] = ()
    """Single tests, as suite.test."""

    @model_validator(mode="after")
    def _not_empty(self) -> "MtrSelectionYaml":
        if not self.suites and not self.tests:
            fail("must list suites, tests or both")
        return self


class KnownFailureYaml(Model):
    """A test that fails for a known reason; it does not fail a run."""

    test: TestName
    """The test, as suite.test."""
    reason: Text
    """Why it fails, and where that is known from."""
    when: Annotated[Text, Check.one_of(MTR_WHEN, "{value!r} is not one of always, emulated")] = "always"
    """always, or emulated: only when the tests run under QEMU."""

    def make(self) -> KnownFailure:
        return KnownFailure(self.test, self.reason.strip(), self.when)


class MtrYaml(Model):
    """How `invoke mtr` runs the recipe's own test suite (mysql-test-run.pl) on the built RPMs."""

    packages: NonEmptyNames
    """The built RPMs installed, the test package among them."""
    testdir: ImagePath
    """Where the test package puts mysql-test-run.pl and the suites."""
    selections: Annotated[Dict[str, MtrSelectionYaml],
                          Check.not_empty("must name at least one selection of tests", minProperties=1)]
    """Named selections of tests (the --selection option)."""
    default_selection: Text
    """The selection run when none is named."""
    requires: Dict[Family, Names] = {}
    """Per package family: what the tests need besides."""
    runner: Text = "mysql-test-run.pl"
    """The test runner's file name in testdir."""
    options: Names = ()
    """mysql-test-run.pl options of every run."""
    emulated_options: Names = ()
    """And of runs under QEMU."""
    known_failures: Entries[KnownFailureYaml] = ()
    """Tests that fail for a known reason: reported, but they do not fail the run."""

    @model_validator(mode="after")
    def _default_is_a_selection(self) -> "MtrYaml":
        must_name_one_of(self.default_selection, self.selections, "selections", "default_selection")
        return self

    def make(self) -> Mtr:
        return Mtr(packages=self.packages, requires=dict(self.requires), testdir=self.testdir, runner=self.runner,
                   options=self.options, emulated_options=self.emulated_options,
                   default_selection=self.default_selection,
                   selections={name: MtrSelection(name, s.description, s.suites, s.tests)
                               for name, s in self.selections.items()},
                   known_failures=tuple(k.make() for k in self.known_failures))


class RecipeYaml(Model):
    """A mysqlbuild recipe: what to build, from which sources, on which bases (recipe.yaml)."""

    name: Annotated[Text, Check.pattern(NAME_RE.pattern,
                                        "{value!r} is not a valid recipe name (lowercase letters, digits, . _ -)")]
    """The recipe's name: lowercase letters, digits, . _ -."""
    default_version: Text
    """The version built when none is asked for: a key of versions."""
    default_base: Text
    """The base built on when none is asked for: a key of bases."""
    spec: Text
    """The RPM spec, relative to the recipe folder."""
    versions: Annotated[Dict[Annotated[Text, Check.pattern(r"^[0-9A-Za-z._+~]+$",
                                                           "is not a valid version (digits, letters, . _ + ~)")],
                             VersionYaml],
                        Check.not_empty("must list at least one version", minProperties=1)]
    """Each version (quoted, e.g. "5.7.44") with its sources and patches."""
    bases: Annotated[Dict[str, BaseYaml], Check.not_empty("must list at least one base", minProperties=1)]
    """The bases, by name (the --base option)."""
    summary: Text = None
    """One line about the recipe (default: its name)."""
    rpm: RpmYaml = RpmYaml()
    """rpmbuild's switches and the RPM checks."""
    image: ImageYaml = ImageYaml()
    """The runtime image."""
    tests: Text = None
    """The image tests' folder (testinfra), relative to the recipe folder."""
    mtr: MtrYaml = None
    """MySQL's own test suite on the built RPMs (invoke mtr); none when left out."""
    codegen: CodegenYaml = CodegenYaml()
    """aarch64 code generation."""
    host: HostYaml = HostYaml()
    """What a host installs with yum or dnf from the RPMs' repository, and how it starts the server."""
    measured: Dict[Annotated[Text, Check.one_of(MODE_NAMES, "{value!r} is not a build mode",
                                                f"modes: {', '.join(MODE_NAMES)}")], Text] = {}
    """The rpms stage's measured time per build mode, shown in the plan and by `invoke doctor`."""

    @model_validator(mode="after")
    def _references(self) -> "RecipeYaml":
        must_name_one_of(self.default_version, self.versions, "versions", "default_version")
        must_name_one_of(self.default_base, self.bases, "bases", "default_base")
        names = list(self.rpm.conditionals)
        for key, version in self.versions.items():          # a source's `when` names an rpm conditional
            for index, source in enumerate(version.sources):
                if source.when and source.when not in names:
                    fail(f"{source.when!r} is not an rpm conditional",
                         f"conditionals of this recipe (rpm.conditionals): {', '.join(names) or '(none)'}",
                         at=("versions", key, "sources", index, "when"))
        return self

    @model_validator(mode="after")
    def _files_exist(self, info: ValidationInfo) -> "RecipeYaml":
        """Checked last: a recipe copied elsewhere is told its other mistakes first."""
        folder = info.context["folder"]

        def check(rel: str, at: tuple, kind: str = "file") -> None:
            path = (folder / rel).resolve()
            if kind == "file" and not path.is_file():
                fail(f"file {rel!r} not found (looked at {path})",
                     "paths in a recipe are relative to the recipe folder", at=at)
            if kind == "folder" and not path.is_dir():
                fail(f"folder {rel!r} not found (looked at {path})", at=at)

        for key, version in self.versions.items():
            for index, patch in enumerate(version.patches):
                check(patch.file, ("versions", key, "patches", index, "file"))
        if self.tests:
            check(self.tests, ("tests",), "folder")
        check(self.spec, ("spec",))
        for index, item in enumerate(self.image.files):
            check(item.src, ("image", "files", index, "src"))
        return self

    def make(self, folder: Path) -> Recipe:
        return Recipe(
            name=self.name, summary=self.summary or self.name, path=folder, spec=(folder / self.spec).resolve(),
            default_version=self.default_version, default_base=self.default_base,
            versions={key: v.make(key, folder) for key, v in self.versions.items()},
            bases={key: b.make(key) for key, b in self.bases.items()}, rpm=self.rpm.make(),
            image=self.image.make(folder, self.name), tests=(folder / self.tests).resolve() if self.tests else None,
            mtr=self.mtr.make() if self.mtr else None, codegen=self.codegen.make(), measured=dict(self.measured),
            host=Host(packages=self.host.packages or self.image.packages, start=self.host.start or ""))


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
    recipe_dir = resolve_recipe_dir(str(name_or_path), recipes_dir or ROOT / "recipes")
    return read(recipe_dir / "recipe.yaml", RecipeYaml, RecipeError, {"folder": recipe_dir}).make(recipe_dir)
