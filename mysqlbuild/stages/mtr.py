"""Stage mtr (`invoke mtr`, not part of `build`): MySQL's own test suite, mysql-test-run.pl, run against
the built RPMs in a container of the target's architecture (under QEMU on another host).

The container is made from the runtime base with the recipe's mtr packages (the test package among them).
Which tests run comes from the recipe (a named selection) or from --suite/--tests.  The results (JUnit
XML, a summary, and each failing test's output) are written beside the old ones and swapped in only when
the run finished: an interrupted run leaves the last complete results as they were.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from .. import mtrreport
from ..engine import BuildRequest
from ..errors import CheckError, CommandError, RecipeError
from ..recipe import Mtr, MtrSelection
from ..render import render
from ..target import Target
from .common import Context, Stage, digest_file

MTR_SCRIPT = "mtr-run.sh"
VARDIR = "/mtr/var"


def mtr_of(t: Target) -> Mtr:
    if t.recipe.mtr is None:
        raise RecipeError(f"recipe {t.recipe.name} has no mtr section: nothing says how to run its test suite",
                          f"add `mtr:` to {t.recipe.file} (packages, testdir, selections; see recipes/mysql57)")
    return t.recipe.mtr


def selection(ctx: Context, t: Target) -> MtrSelection:
    """--suite / --tests when given, else the named selection (default: the recipe's default one)."""
    mtr = mtr_of(t)
    split = lambda text: tuple(x.strip() for x in text.split(",") if x.strip())  # noqa: E731
    if ctx.settings.mtr_suite or ctx.settings.mtr_tests:
        return MtrSelection("custom", "chosen with --suite/--tests", split(ctx.settings.mtr_suite),
                            split(ctx.settings.mtr_tests))
    name = ctx.settings.mtr_selection or mtr.default_selection
    if name not in mtr.selections:
        raise RecipeError(f"no test selection {name!r} in {t.recipe.file}",
                          f"selections: {', '.join(mtr.selections)}; or choose tests with --suite / --tests")
    return mtr.selections[name]


def emulated(t: Target) -> bool:
    """The tests run in the target's architecture: under QEMU unless the host has it."""
    return t.mode.host != t.arch


def mtr_image(t: Target) -> str:
    return f"mysqlbuild-mtr/{t.recipe.name}:{t.version.version}-{t.base.name}-{t.arch.docker}"


def mtr_dockerfile(t: Target) -> str:
    return render("mtr.Dockerfile.j2", {"recipe": t.recipe.name, "version": t.version.version, "base": t.base,
                                        "arch": t.arch, "runtime_image": t.base.runtime_image(t.arch.docker),
                                        "mtr": mtr_of(t)}, t.root / "dockerfiles")


def mtr_command(ctx: Context, t: Target, chosen: MtrSelection) -> list[str]:
    mtr = mtr_of(t)
    jobs = ctx.settings.jobs or os.cpu_count() or 1
    options = [*mtr.options, *(mtr.emulated_options if emulated(t) else ()), f"--parallel={jobs}"]
    return ["mysqlbuild-mtr", *chosen.tests, "--", *options]


class MtrStage(Stage):
    name = "mtr"
    upstream = ("rpms", "base")
    in_build = False

    def inputs(self, ctx: Context, t: Target) -> dict:
        if t.recipe.mtr is None:
            return {"mtr": None}
        return {"dockerfile": mtr_dockerfile(t), "script": digest_file(t.root / "dockerfiles" / MTR_SCRIPT)}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        if t.recipe.mtr is None:
            return [f"recipe {t.recipe.name} has no mtr section: invoke mtr cannot run"], []
        chosen = selection(ctx, t)
        where = f"under QEMU on this {t.mode.host.rpm} host" if emulated(t) else "natively"
        lines = [f"{t.recipe.mtr.runner} in a {t.arch.platform} container ({where}) from "
                 f"{t.base.runtime_image(t.arch.docker)} + {', '.join(t.recipe.mtr.packages)}",
                 f"selection {chosen.name}: {chosen.description}; suites {', '.join(chosen.suites) or '(none)'}, "
                 f"{len(chosen.tests)} single test(s)",
                 f"{len(t.recipe.mtr.known_failures)} known failure(s) listed in the recipe",
                 f"results: {t.log_dir / 'mtr'} (junit.xml, summary.txt, failures/)"]
        build = ctx.command_text(BuildRequest(dockerfile=t.build_dir / "mtr-context" / "Dockerfile",
                                              context=t.build_dir / "mtr-context", platform=t.arch.platform,
                                              tags=(mtr_image(t),)))
        run = (f"docker run --rm --platform {t.arch.platform} -e MTR_SUITES={','.join(chosen.suites)} "
               f"{mtr_image(t)} " + " ".join(mtr_command(ctx, t, chosen)))
        return lines, [build, run]

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        return False, "the tests run each time they are asked for"

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        mtr = mtr_of(t)
        chosen = selection(ctx, t)
        packages = ctx.recorded(t, "rpms").get("packages", {})
        missing = [name for name in mtr.packages if name not in packages]
        if missing:
            raise CheckError(f"the RPMs of {t.label} lack {', '.join(missing)}, which the tests need",
                             f"built: {', '.join(sorted(packages)) or 'nothing'}; build the test package "
                             f"(invoke rpms without --rpm-without test), or fix mtr.packages in {t.recipe.file}")
        self._build_image(ctx, t, [t.rpm_out / packages[name]["file"] for name in mtr.packages])
        return self._run_tests(ctx, t, mtr, chosen)

    @staticmethod
    def _build_image(ctx: Context, t: Target, rpms: list[Path]) -> None:
        context = t.build_dir / "mtr-context"
        shutil.rmtree(context, ignore_errors=True)
        (context / "rpms").mkdir(parents=True)
        for rpm in rpms:
            shutil.copy2(rpm, context / "rpms" / rpm.name)
        shutil.copy2(t.root / "dockerfiles" / MTR_SCRIPT, context / MTR_SCRIPT)
        (context / "Dockerfile").write_text(mtr_dockerfile(t))
        request = BuildRequest(dockerfile=context / "Dockerfile", context=context, platform=t.arch.platform,
                               tags=(mtr_image(t),))
        stream = ctx.reporter.build("test image", t.log_dir / "mtr-image.log")
        ctx.engine.run_build(request, stream, f"building the test image {mtr_image(t)}")

    def _run_tests(self, ctx: Context, t: Target, mtr: Mtr, chosen: MtrSelection) -> dict:
        work = t.build_dir / ".mtr-run"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        command = mtr_command(ctx, t, chosen)
        env = {"MTR_TESTDIR": mtr.testdir, "MTR_RUNNER": mtr.runner, "MTR_SUITES": ",".join(chosen.suites),
               "MTR_VARDIR": VARDIR}
        stream = ctx.reporter.build(f"mysql-test-run ({chosen.name})", t.log_dir / "mtr.log", label="tests")
        stream.feed("$ " + " ".join(f"{k}={v}" for k, v in env.items()) + " " + " ".join(command))
        reader = mtrreport.Reader()

        def count(line: str) -> None:
            if reader.feed(line) is not None:
                failed = sum(r.status == "fail" for r in reader.runs)
                stream.detail = f"{len(reader.runs)} tests done" + (f", {failed} failed" if failed else "")

        start = time.monotonic()
        code = ctx.engine.run_streamed(mtr_image(t), command, stream, on_line=count, environment=env,
                                       platform=t.arch.platform,
                                       volumes={str(work): {"bind": "/mtr", "mode": "rw"}},
                                       # as a database host: NUMA memory policies (set_mempolicy needs
                                       # CAP_SYS_NICE under Docker's seccomp profile)
                                       cap_add=["SYS_NICE"], shm_size="1g")
        seconds = time.monotonic() - start
        if not reader.runs:
            raise CommandError(f"mysql-test-run.pl ran no test in {mtr_image(t)}", command=command, exit_code=code,
                               log_tail=stream.tail_text(40), log_path=str(stream.log_path),
                               hint="read the log: a test name or suite that does not exist, or a server that "
                                    "did not start (the log of the first server is under the test's var/log)")
        verdict = mtrreport.judge(reader.runs, mtr.known_failures, emulated(t))
        self._write_results(t, work, verdict, chosen, seconds)
        where = "under QEMU" if emulated(t) else "natively"
        ctx.reporter.note(f"mtr {chosen.name}, {t.arch.rpm} {where}: {verdict.summary()} in {seconds / 60:.1f} min")
        for run in verdict.known_failed:
            ctx.reporter.note(f"  known failure {run.label}: {run.known.reason}")
        for known in verdict.fixed:
            ctx.reporter.warn(f"{known.test} is listed as a known failure ({known.reason}) but passed: "
                              f"remove it from mtr.known_failures in {t.recipe.file}")
        if not verdict.ok:
            names = ", ".join(r.label for r in verdict.unexpected[:10])
            raise CommandError(f"{len(verdict.unexpected)} test(s) of the recipe's test suite failed on {t.label}: "
                               f"{names}",
                               command=command, exit_code=code, log_tail=stream.tail_text(30),
                               log_path=str(t.log_dir / "mtr"),
                               hint=f"each failing test's output is in {t.log_dir / 'mtr' / 'failures'}; a test "
                                    f"that fails for a known reason belongs in mtr.known_failures with that reason")
        return {"selection": chosen.name, "passed": verdict.passed, "skipped": verdict.skipped,
                "known_failures": len(verdict.known_failed), "seconds": round(seconds)}

    @staticmethod
    def _write_results(t: Target, work: Path, verdict: mtrreport.Verdict, chosen: MtrSelection,
                       seconds: float) -> None:
        fresh = t.log_dir / ".mtr.new"
        shutil.rmtree(fresh, ignore_errors=True)
        (fresh / "failures").mkdir(parents=True)
        (fresh / "junit.xml").write_text(mtrreport.junit(verdict, f"mysql-test-run {chosen.name}", seconds))
        lines = [f"{t.label}, selection {chosen.name}: {verdict.summary()}, {seconds:.0f} s"]
        lines += [f"FAILED {r.label}" for r in verdict.unexpected]
        lines += [f"known failure {r.label}: {r.known.reason}" for r in verdict.known_failed]
        lines += [f"passes again (remove from known_failures): {k.test}" for k in verdict.fixed]
        (fresh / "summary.txt").write_text("\n".join(lines) + "\n")
        for run in verdict.known_failed + verdict.unexpected:
            (fresh / "failures" / mtrreport.file_name(run)).write_text(mtrreport.failure_log(run))
        logs = work / "var" / "log"
        if logs.is_dir() and (verdict.unexpected or verdict.known_failed):
            shutil.copytree(logs, fresh / "var-log", ignore=shutil.ignore_patterns("*.sock", "*.pid"),
                            dirs_exist_ok=True)
        final = t.log_dir / "mtr"
        old = t.log_dir / ".mtr.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(fresh, final)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


STAGE = MtrStage()
