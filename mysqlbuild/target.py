"""One build target: a recipe version on one base for one architecture, and the paths and tags derived from it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .archs import Arch, host_arch, parse_archs
from .buildmode import BuildMode, choose_mode
from .errors import ConfigError
from .recipe import Base, Recipe, Version, load_recipe
from .settings import Settings
from .toolchain import Toolchain


@dataclass(frozen=True)
class Target:
    """One build: a recipe version on one base for one architecture."""

    recipe: Recipe
    version: Version
    base: Base
    arch: Arch
    settings: Settings
    root: Path
    conditionals: tuple[tuple[str, bool], ...]
    mode: BuildMode

    @property
    def label(self) -> str:
        return f"{self.recipe.name} {self.version.version} ({self.base.name}, {self.arch.docker})"

    @property
    def build_dir(self) -> Path:
        return (self.settings.path(self.root, "build_dir") / self.recipe.name / self.version.version
                / f"{self.base.name}-{self.arch.docker}")

    @property
    def log_dir(self) -> Path:
        return self.build_dir / "logs"

    @property
    def state_path(self) -> Path:
        return self.build_dir / "state.json"

    @property
    def cache_dir(self) -> Path:
        return self.settings.path(self.root, "cache_dir")

    @property
    def rpm_out(self) -> Path:
        return self.settings.path(self.root, "rpm_dir") / self.arch.rpm

    @property
    def image_tag(self) -> str:
        try:
            return self.settings.image_tag.format(name=self.recipe.image.name, version=self.version.version,
                                                  arch=self.arch.docker, release=self.version.release,
                                                  base=self.base.name, recipe=self.recipe.name)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"image_tag {self.settings.image_tag!r} is not valid ({exc})",
                              "use the fields {name} {version} {arch} {release} {base} {recipe}") from None

    @property
    def builder_tag(self) -> str:
        """The builder image: the base and its build requirements, the same in every mode."""
        return f"mysqlbuild-builder/{self.recipe.name}:{self.version.version}-{self.base.name}-{self.arch.docker}"

    @property
    def expected_time(self) -> str:
        """The rpms stage's measured duration in this mode, as the recipe records it (empty when it does not)."""
        figure = self.recipe.measured.get(self.mode.name)
        return f"; its rpms stage was measured at {figure} (recipe.yaml measured.{self.mode.name})" if figure else ""

    @property
    def toolchain(self) -> Toolchain | None:
        """Cross mode's host toolchain; None in the other modes."""
        return self.mode.toolchain

    @property
    def atomics(self) -> str:
        """How aarch64 code does atomic operations: the setting, else the recipe's codegen.atomics."""
        return self.settings.atomics or self.recipe.codegen.atomics

    @property
    def codegen_flags(self) -> tuple[str, ...]:
        """The recipe's code generation for this architecture (none for x86_64)."""
        return self.recipe.codegen.flags(self.arch.rpm, self.settings.atomics)

    @property
    def archive_path(self) -> Path:
        name = self.recipe.image.name.replace("/", "_")
        return self.settings.path(self.root, "dist_dir") / f"{name}-{self.version.version}-{self.arch.docker}.tar.gz"

    @property
    def downloads(self):
        return tuple(d for d in self.recipe.image.downloads if d.arch == self.arch.docker)

    @property
    def sources(self):
        """The version's sources this build uses: those with `when` only when that conditional is on."""
        on = dict(self.conditionals)
        return tuple(s for s in self.version.sources if not s.when or on.get(s.when, False))

    @property
    def local_bases(self) -> list[tuple[str, Arch]]:
        """Base images this pipeline makes itself (debootstrap): builder and runtime, of the target's arch."""
        if self.base.debootstrap is None:
            return []
        refs = [(self.base.builder_image(self.arch.docker), self.arch),
                (self.base.runtime_image(self.arch.docker), self.arch)]
        return list(dict.fromkeys(refs))


def load_targets(settings: Settings, root: Path, host: Arch | None = None) -> list[Target]:
    """The targets the settings name: one recipe version and base, for each architecture asked for.
    `host` is the architecture the builds run on (the Docker engine's; default: this machine's)."""
    host = host or host_arch()
    if host is None:
        raise ConfigError("this machine is neither x86_64 nor aarch64", "run the pipeline on an x86_64 or "
                          "aarch64 host, or point --docker-host at one")
    recipe = load_recipe(settings.recipe, settings.path(root, "recipes_dir"))
    version = recipe.version(settings.version or None)
    base = recipe.base(settings.base or None)
    overrides: dict[str, bool] = {}
    for text, value in ((settings.rpm_with, True), (settings.rpm_without, False)):
        for name in filter(None, (n.strip() for n in text.split(","))):
            overrides[name] = value
    conds = tuple(sorted(recipe.conditionals(overrides).items()))
    return [Target(recipe, version, base, arch, settings, root, conds,
                   choose_mode(settings.mode, arch, host, settings.toolchain))
            for arch in parse_archs(settings.arch)]
