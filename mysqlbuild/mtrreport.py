"""mysql-test-run.pl's results: read from its output, judged against the recipe's known failures, and
written as a JUnit XML file and a summary.  Pure: lines in, results and text out."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from .recipe import KnownFailure

# "[ 37%] binlog.binlog_row_mix 'mix'  w2 [ pass ]    123" (MySQL 5.7, --parallel), or without the
# percentage, or "worker[1] main.select [ pass ] 10" (MariaDB's fork).
RESULT = re.compile(r"^(?:worker\[\d+\]\s+)?(?:\[\s*(?P<percent>\d+)%\]\s+)?(?P<name>[\w-]+\.[\w.-]+)"
                    r"(?:\s+'(?P<combination>[^']*)')?\s+(?:w\d+\s+)?"
                    r"\[ (?P<status>retry-pass|retry-fail|exp-fail|pass|fail|skipped|disabled) \]\s*(?P<rest>.*)$")
PASSED = ("pass", "retry-pass")
FAILED = ("fail", "retry-fail", "exp-fail")
SKIPPED = ("skipped", "disabled")


@dataclass
class TestRun:
    name: str                   # suite.test
    combination: str
    status: str                 # pass, fail, skipped (mtr's words, retries folded in)
    detail: str                 # ms for a pass, the reason for a skip
    output: list[str] = field(default_factory=list)   # what mtr printed about a failure
    known: KnownFailure | None = None

    @property
    def label(self) -> str:
        return f"{self.name} '{self.combination}'" if self.combination else self.name

    @property
    def seconds(self) -> float:
        return int(self.detail) / 1000 if self.status == "pass" and self.detail.isdigit() else 0.0


def status_of(word: str) -> str:
    return "pass" if word in PASSED else "fail" if word in FAILED else "skipped"


class Reader:
    """Feed it mysql-test-run.pl's output line by line; it keeps each test run and what followed a failure."""

    def __init__(self) -> None:
        self.runs: list[TestRun] = []
        self.percent: int | None = None
        self._collecting: TestRun | None = None

    def feed(self, line: str) -> TestRun | None:
        text = line.rstrip("\n")
        match = RESULT.match(text.strip())
        if match:
            run = TestRun(match["name"], match["combination"] or "", status_of(match["status"]),
                          match["rest"].strip())
            if match["percent"]:
                self.percent = int(match["percent"])
            # A retried test prints a line for each try; the last one counts.
            if self.runs and self.runs[-1].label == run.label and self.runs[-1].status == "fail" and \
                    match["status"].startswith("retry"):
                self.runs.pop()
            self.runs.append(run)
            self._collecting = run if run.status == "fail" else None
            return run
        if self._collecting is not None and len(self._collecting.output) < 400:
            self._collecting.output.append(text)
        return None


@dataclass
class Verdict:
    runs: list[TestRun]
    known_failed: list[TestRun]       # failed, and listed with a reason
    unexpected: list[TestRun]         # failed, not listed: these fail the run
    fixed: list[KnownFailure]         # listed, but passed this time: the list should lose them
    passed: int
    skipped: int

    @property
    def ok(self) -> bool:
        return not self.unexpected

    def summary(self) -> str:
        parts = [f"{self.passed} passed", f"{self.skipped} skipped"]
        if self.known_failed:
            parts.append(f"{len(self.known_failed)} known failure(s)")
        parts.append(f"{len(self.unexpected)} failed")
        return f"{len(self.runs)} test runs: " + ", ".join(parts)


def judge(runs: list[TestRun], known: tuple[KnownFailure, ...], emulated: bool) -> Verdict:
    """Failures listed in the recipe (for this kind of run) are known; a listed test that passed is fixed."""
    listed = {k.test: k for k in known if k.when == "always" or (k.when == "emulated" and emulated)}
    known_failed, unexpected, seen_pass, seen_fail = [], [], set(), set()
    for run in runs:
        if run.status == "fail":
            seen_fail.add(run.name)
            if run.name in listed:
                run.known = listed[run.name]
                known_failed.append(run)
            else:
                unexpected.append(run)
        elif run.status == "pass":
            seen_pass.add(run.name)
    fixed = [k for name, k in listed.items() if name in seen_pass and name not in seen_fail]
    return Verdict(runs, known_failed, unexpected, fixed,
                   passed=sum(r.status == "pass" for r in runs), skipped=sum(r.status == "skipped" for r in runs))


def junit(verdict: Verdict, suite_name: str, seconds: float) -> str:
    """A JUnit XML report: unexpected failures are <failure>, known ones <skipped> with their reason."""
    runs = verdict.runs
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuites name={quoteattr(suite_name)} tests="{len(runs)}" failures="{len(verdict.unexpected)}" '
             f'skipped="{verdict.skipped + len(verdict.known_failed)}" time="{seconds:.1f}">',
             f'  <testsuite name={quoteattr(suite_name)} tests="{len(runs)}" failures="{len(verdict.unexpected)}" '
             f'errors="0" skipped="{verdict.skipped + len(verdict.known_failed)}" time="{seconds:.1f}">']
    fixed = {k.test for k in verdict.fixed}
    for run in runs:
        suite, _, test = run.name.partition(".")
        name = f"{test} '{run.combination}'" if run.combination else test
        head = f'    <testcase classname={quoteattr(suite)} name={quoteattr(name)} time="{run.seconds:.3f}"'
        output = escape("\n".join(run.output))
        if run.status == "fail" and run.known is None:
            lines += [head + ">", f'      <failure message="failed">{output}</failure>', "    </testcase>"]
        elif run.status == "fail":
            lines += [head + ">", f"      <skipped message={quoteattr('known failure: ' + run.known.reason)}/>",
                      f"      <system-out>{output}</system-out>", "    </testcase>"]
        elif run.status == "skipped":
            lines += [head + ">", f"      <skipped message={quoteattr(run.detail or 'skipped')}/>", "    </testcase>"]
        elif run.name in fixed:
            lines += [head + ">", "      <system-out>listed as a known failure in the recipe, but passed: "
                      "remove it from mtr.known_failures</system-out>", "    </testcase>"]
        else:
            lines.append(head + "/>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)


def failure_log(run: TestRun) -> str:
    head = f"{run.label}: " + (f"known failure ({run.known.reason})" if run.known else "failed")
    return head + "\n\n" + "\n".join(run.output) + "\n"


def file_name(run: TestRun) -> str:
    return re.sub(r"[^\w.-]+", "_", run.label).strip("_") + ".log"
