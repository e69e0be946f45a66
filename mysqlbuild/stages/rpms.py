"""Stage rpms: rpmbuild in the builder, the RPMs checked, then swapped into rpmbuild/RPMS/<arch>."""
from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import time
from pathlib import Path

from .. import rpmcheck
from ..buildercontext import (BUILD_SCRIPT, TOOLCHAIN_FLAGS, TOOLCHAIN_SETUP, builder_dockerfile, builder_request, rpmbuild_args,
                              write_builder_context)
from ..errors import CommandError, PipelineError
from ..sources import sha256_file
from ..target import Target
from .common import Context, Stage, digest_file


def rpm_digests(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {p.name: sha256_file(p) for p in sorted(folder.glob("*.rpm"))}


# How linkers and cmake say a library is not there: GNU ld and lld; and a cmake error raised by
# find_package(... REQUIRED) (a plain "Could NOT find Git" is only a note about an optional package).
MISSING_LIBRARY = re.compile(r"(?:cannot find|unable to find library) -l([\w.+-]+)|"
                             r"CMake Error at [^\n]*FindPackageHandleStandardArgs[^\n]*\n(?:[^\n]*\n){0,2}?"
                             r"\s*Could NOT find (\w+)")


def missing_library(log: str) -> str | None:
    """The first library the build looked for and did not find, from its log: `-lNAME` for what a linker
    missed, a cmake package name (ZLIB, OpenSSL) for what cmake missed."""
    match = MISSING_LIBRARY.search(log)
    if not match:
        return None
    return f"-l{match.group(1)}" if match.group(1) else match.group(2)


def missing_library_hint(t: Target, name: str) -> tuple[str, str]:
    """The message and hint for a library that is not where the build looked."""
    where = f"in the {t.arch.rpm} builder image of base {t.base.name}"
    if name.startswith("-l"):
        lib = "lib" + name[2:]
        what = f"{lib}.so and its headers (on {t.base.family} bases usually " + \
               (f"{lib}-dev)" if t.base.family == "apt" else f"{name[2:]}-devel)")
    else:
        what = f"{name}'s library and headers (its -dev or -devel package)"
    return (f"the library {name} is not {where}",
            f"add the package that provides {what} to bases.{t.base.name}.build_requires in {t.recipe.file}, "
            f"then build again")


def swap_dir(fresh: Path, target: Path) -> None:
    """Put `fresh` where `target` is; the old folder goes only after the new one is in place."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(fresh, target)
    shutil.rmtree(old, ignore_errors=True)


class RpmsStage(Stage):
    name = "rpms"
    upstream = ("builder", "fetch", "toolchain")

    def inputs(self, ctx: Context, t: Target) -> dict:
        return {"mode": t.mode.name,
                "dockerfile": builder_dockerfile(t),
                "build_script": digest_file(BUILD_SCRIPT),
                "toolchain_setup": [digest_file(TOOLCHAIN_SETUP), digest_file(TOOLCHAIN_FLAGS)] if t.toolchain else None,
                "atomics": t.atomics if t.arch.rpm == "aarch64" else None,
                "spec": [t.recipe.spec.name, digest_file(t.recipe.spec)],
                "sources": [[s.file, s.sha256] for s in t.sources],
                "patches": [[p.file, digest_file(p.path)] for p in t.version.patches],
                "check_elf_align": t.recipe.rpm.check_elf_align,
                "forbid_libs": list(t.recipe.rpm.forbid_libs)}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        out = t.rpm_out.parent / f".{t.arch.rpm}.incoming"
        lines = [f"{t.mode.name} build: {t.mode.reason}"]
        if t.toolchain:
            lines.append(f"compiler: {t.toolchain.name} from {t.toolchain.image} (mounted), with the base's own GCC "
                         "runtime, headers and libraries; rpmbuild and its macros are the base's")
        if t.codegen_flags:
            lines.append(f"{t.arch.rpm} code generation: atomics {t.atomics} ({' '.join(t.codegen_flags)}), checked "
                         "on every ELF file")
        lines += [
                 f"spec {t.recipe.spec.name}, {len(t.sources)} source(s), {len(t.version.patches)} patch(es)",
                 "rpmbuild " + " ".join(rpmbuild_args(t)),
                 f"RPMs into {t.rpm_out} (checked: header arch {t.arch.rpm}, rpm -K"
                 + (", 64K LOAD alignment" if t.arch.rpm == "aarch64" and t.recipe.rpm.check_elf_align else "")
                 + (f", no {' '.join(t.recipe.rpm.forbid_libs)}" if t.recipe.rpm.forbid_libs else "") + ")"]
        epoch = t.version.source_date_epoch
        if epoch:
            day = _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%d")
            lines.append(f"SOURCE_DATE_EPOCH {epoch} ({day}): reproducible payloads")
        else:
            lines.append("no source_date_epoch in the recipe: payloads carry the build's dates")
        lines += [f"patch {p.file}: {p.reason}" for p in t.version.patches]
        return lines, [ctx.command_text(builder_request(t, "export", output_dir=out,
                                                        build_args=(("JOBS", str(ctx.settings.jobs)),)))]

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        have = rpm_digests(t.rpm_out)
        return (have == output.get("rpms"), "RPMs unchanged" if have == output.get("rpms") else
                f"{t.rpm_out} does not hold this build's RPMs")

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        write_builder_context(t)
        parent = t.rpm_out.parent
        parent.mkdir(parents=True, exist_ok=True)
        incoming = parent / f".{t.arch.rpm}.incoming"
        shutil.rmtree(incoming, ignore_errors=True)
        args = [("JOBS", str(ctx.settings.jobs))]
        if not ctx.settings.ccache:
            args.append(("NO_CCACHE", "1"))
        if forced:
            args.append(("FORCE_NONCE", str(time.time_ns())))
        request = builder_request(t, "export", output_dir=incoming, build_args=tuple(args))
        stream = ctx.reporter.build("rpmbuild", t.log_dir / "rpms.log")
        try:
            try:
                ctx.engine.run_build(request, stream, f"rpmbuild of {t.label}")
            except CommandError as exc:
                self._fetch_failure_log(ctx, t, exc)
                self._name_a_missing_library(t, exc)
                raise
            log = incoming / "logs" / "rpmbuild.log"
            if log.is_file():
                shutil.copy2(log, t.log_dir / "rpmbuild.log")
            rpms = sorted(incoming.glob("RPMS/*/*.rpm"))
            with ctx.reporter.step(f"checking {len(rpms)} RPM(s)"):
                infos = rpmcheck.check_rpms(rpms, t.arch, check_align=t.recipe.rpm.check_elf_align,
                                            forbid_libs=t.recipe.rpm.forbid_libs,
                                            atomics=t.atomics if t.codegen_flags else "")
            self._report_atomics(ctx, t, infos)
            fresh = parent / f".{t.arch.rpm}.new"
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir()
            for rpm in rpms:
                os.replace(rpm, fresh / rpm.name)
            swap_dir(fresh, t.rpm_out)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        for info in infos:
            ctx.reporter.note(f"{info.path.name}: {info.name} {info.evr} {info.arch}")
        return {"rpms": rpm_digests(t.rpm_out),
                "packages": {i.name: {"evr": i.evr, "arch": i.arch, "file": i.path.name} for i in infos}}

    @staticmethod
    def _report_atomics(ctx: Context, t: Target, infos: list[rpmcheck.RpmInfo]) -> None:
        """How each aarch64 ELF file does atomics: a line per RPM here, a line per file in logs/atomics.txt."""
        if not t.codegen_flags:
            return
        lines = [f"# atomics of the {t.arch.rpm} ELF files of {t.label}; the recipe asks for {t.atomics}"]
        for info in infos:
            kinds: dict[str, int] = {}
            for name, result in info.atomics:
                kinds[result.kind] = kinds.get(result.kind, 0) + 1
                lines.append(f"{info.path.name}\t{name}\t{result.kind}\t{result.lse} LSE\t{result.llsc} LL/SC")
            if kinds:
                ctx.reporter.note(f"{info.name}: atomics in {len(info.atomics)} ELF file(s): "
                                  + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        t.log_dir.mkdir(parents=True, exist_ok=True)
        (t.log_dir / "atomics.txt").write_text("\n".join(lines) + "\n")

    @staticmethod
    def _name_a_missing_library(t: Target, exc: CommandError) -> None:
        log = t.log_dir / "rpmbuild.log"
        brought_home = log.is_file() and str(log) in (exc.log_path or "")
        text = log.read_text(errors="replace") if brought_home else exc.log_tail
        name = missing_library(text)
        if name:
            message, hint = missing_library_hint(t, name)
            exc.message = f"{exc.message}: {message}"
            exc.hint = hint + "; " + (exc.hint or "")

    @staticmethod
    def _fetch_failure_log(ctx: Context, t: Target, exc: CommandError) -> None:
        """Bring the whole rpmbuild log home from the builder's cache mount."""
        out = t.build_dir / ".failure-log"
        shutil.rmtree(out, ignore_errors=True)
        request = builder_request(t, "failure-log-export", output_dir=out,
                                  build_args=(("LOG_NONCE", str(time.time_ns())),))
        stream = ctx.reporter.build("rpmbuild log", t.log_dir / "failure-log.log")
        try:
            ctx.engine.run_build(request, stream, "copying the rpmbuild log")
            if (out / "rpmbuild.log").is_file():
                target = t.log_dir / "rpmbuild.log"
                shutil.copy2(out / "rpmbuild.log", target)
                exc.log_path = f"{target} (BuildKit output: {exc.log_path})"
        except PipelineError:
            pass
        finally:
            shutil.rmtree(out, ignore_errors=True)
        exc.hint = (exc.hint or "") + f"; the RPMs of the last good build are still in {t.rpm_out}"


STAGE = RpmsStage()
