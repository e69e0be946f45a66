"""The build contexts: the builder's Dockerfile and context, which the builder and rpms stages both build
from, and the host toolchain's (toolchain stage)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from . import ROOT
from .engine import BuildRequest
from .errors import PipelineError
from .render import render
from .sources import cache_path, copy_or_link
from .target import Target

BUILD_SCRIPT = ROOT / "dockerfiles" / "build-rpms.sh"
TOOLCHAIN_SETUP = ROOT / "dockerfiles" / "toolchain-setup.sh"
TOOLCHAIN_FLAGS = ROOT / "dockerfiles" / "toolchain-flags.sh"
TOOLCHAIN_PACK = ROOT / "dockerfiles" / "toolchain-pack.sh"
DEPS_END = "\n# -- end of the builder image --"     # the builder image is the Dockerfile up to here


def rpmbuild_args(t: Target) -> list[str]:
    args = [t.recipe.spec.name, "--define", f"recipe_version {t.version.version}",
            "--define", f"recipe_release {t.version.release}"]
    for name, on in t.conditionals:
        args += ["--with" if on else "--without", name]
    for key, value in t.recipe.rpm.defines:
        args += ["--define", f"{key} {value}"]
    if t.codegen_flags:
        args += ["--define", f"mysqlbuild_codegen_flags {' '.join(t.codegen_flags)}"]
    return args


def builder_dockerfile(t: Target) -> str:
    env = {}
    if t.base.family == "apt":
        env["NODEPS"] = "1"
    if t.version.source_date_epoch:
        env["SOURCE_DATE_EPOCH"] = str(t.version.source_date_epoch)
    if t.toolchain is not None:
        env.update(MYSQLBUILD_TOOLCHAIN=t.toolchain.mount, MYSQLBUILD_TRIPLE=t.arch.triple)
    if t.codegen_flags:
        env["MYSQLBUILD_CODEGEN_FLAGS"] = " ".join(t.codegen_flags)
    return render("builder.Dockerfile.j2", {
        "recipe": t.recipe.name, "version": t.version.version, "base": t.base, "arch": t.arch, "mode": t.mode,
        "builder_image": t.base.builder_image(t.arch.docker), "toolchain": t.toolchain,
        "cache_prefix": f"mysqlbuild-{t.recipe.name}-{t.base.name}-{t.arch.docker}",
        "rpmbuild_args": rpmbuild_args(t), "build_env": env,
    }, t.root / "dockerfiles")


def builder_image_dockerfile(t: Target) -> str:
    """The part of the builder's Dockerfile that makes the builder image: the same in every mode."""
    return builder_dockerfile(t).split(DEPS_END, 1)[0]


def builder_request(t: Target, target: str, **extra: Any) -> BuildRequest:
    context = t.build_dir / "builder-context"
    return BuildRequest(dockerfile=context / "Dockerfile", context=context, platform=t.arch.platform,
                        target=target, **extra)


def write_builder_context(t: Target, sources: bool = True) -> Path:
    """The Dockerfile, the build script, the spec, the sources and the patches, in a fresh folder.

    The builder image needs no sources (sources=False): `invoke builder` works before `invoke fetch`."""
    context = t.build_dir / "builder-context"
    if context.exists():
        shutil.rmtree(context)
    (context / "SPECS").mkdir(parents=True)
    (context / "SOURCES").mkdir()
    (context / "Dockerfile").write_text(builder_dockerfile(t))
    shutil.copy2(BUILD_SCRIPT, context / "build-rpms.sh")
    shutil.copy2(TOOLCHAIN_SETUP, context / "toolchain-setup.sh")
    shutil.copy2(TOOLCHAIN_FLAGS, context / "toolchain-flags.sh")
    shutil.copy2(t.recipe.spec, context / "SPECS" / t.recipe.spec.name)
    for source in t.sources if sources else ():
        cached = cache_path(t.cache_dir, source)
        if not cached.is_file():
            raise PipelineError(f"{source.file} is not in the cache", "run `invoke fetch` first")
        copy_or_link(cached, context / "SOURCES" / source.file)
    for patch in t.version.patches:
        shutil.copy2(patch.path, context / "SOURCES" / Path(patch.file).name)
    return context


def toolchain_request(t: Target, **extra: Any) -> BuildRequest:
    assert t.toolchain is not None
    context = t.build_dir / "toolchain-context"
    return BuildRequest(dockerfile=context / "Dockerfile", context=context, platform=t.toolchain.host.platform,
                        **extra)


def toolchain_dockerfile(t: Target) -> str:
    assert t.toolchain is not None
    return render("toolchain.Dockerfile.j2", {"toolchain": t.toolchain}, t.root / "dockerfiles")


def write_toolchain_context(t: Target) -> Path:
    """The host toolchain's Dockerfile and pack script, in a fresh folder."""
    context = t.build_dir / "toolchain-context"
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text(toolchain_dockerfile(t))
    shutil.copy2(TOOLCHAIN_PACK, context / "toolchain-pack.sh")
    return context
