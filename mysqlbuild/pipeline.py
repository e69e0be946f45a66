"""The stage graph, the plan (what runs and why), each target's state and lock, and the loop that runs the plan.

    base ─► builder ─► rpms ─► image ─► verify
    fetch ───────────►  ┤ │       └───► save
    toolchain ───────►  ┘ └► mtr   (toolchain: cross mode only; mtr: only when asked for, invoke mtr)

What a stage takes, does and checks lives in its own module under stages/.
A stage's key is the sha256 of its inputs and its upstream stages' keys
(never timestamps or paths of this machine).  A stage whose key is the
recorded one and whose output is still there is skipped; ``--force`` redoes
it.  When a stage runs, the records of the stages after it are dropped, so
they run again on the new output.
"""
from __future__ import annotations

import fcntl
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import ROOT
from .engine import Engine
from .errors import PipelineError
from .progress import Reporter
from .settings import Settings
from .stages import ALL, Context
from .stages.common import digest_json
from .state import State
from .target import Target, load_targets

STAGES = tuple(stage.name for stage in ALL)
BUILD = tuple(stage.name for stage in ALL if stage.in_build)       # what `invoke build` runs
BY_NAME = {stage.name: stage for stage in ALL}
UPSTREAM = {stage.name: stage.upstream for stage in ALL}


def downstream(stage: str) -> list[str]:
    """The stages built on `stage`, directly or further down."""
    out: list[str] = []
    for other in STAGES:
        todo = list(UPSTREAM[other])
        while todo:
            item = todo.pop()
            if item == stage:
                out.append(other)
                break
            todo.extend(UPSTREAM[item])
    return out


def stages_for(last: str) -> list[str]:
    """The stages a task runs: `last` and everything it needs."""
    needed = {last}
    todo = [last]
    while todo:
        for item in UPSTREAM[todo.pop()]:
            if item not in needed:
                needed.add(item)
                todo.append(item)
    return [s for s in STAGES if s in needed]


@dataclass
class StagePlan:
    stage: str
    key: str
    inputs: dict[str, Any]
    summary: list[str]
    commands: list[str]
    current: bool
    reason: str
    forced: bool = False

    @property
    def will_run(self) -> bool:
        return self.forced or not self.current


@dataclass
class Pipeline:
    settings: Settings
    reporter: Reporter
    root: Path = ROOT
    engine: Engine | None = None
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)
    _inputs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = Engine(docker=self.settings.docker, builder=self.settings.builder,
                                 docker_host=self.settings.docker_host)
        self.ctx = Context(self.settings, self.reporter, self.engine, self.root)

    def targets(self) -> list[Target]:
        return load_targets(self.settings, self.root, self.engine.native_arch())

    def key(self, stage: str, t: Target) -> str:
        cache_key = (stage, t.label)
        if cache_key not in self._keys:
            self._inputs[cache_key] = BY_NAME[stage].inputs(self.ctx, t)
            upstream = {name: self.key(name, t) for name in UPSTREAM[stage] if BY_NAME[name].applies(t)}
            self._keys[cache_key] = digest_json({"stage": stage, "inputs": self._inputs[cache_key],
                                                 "upstream": upstream})
        return self._keys[cache_key]

    def output_current(self, stage: str, t: Target, record: dict) -> tuple[bool, str]:
        """Whether the output `record` describes is still there, unchanged."""
        return BY_NAME[stage].current(self.ctx, t, record.get("output", {}))

    def plan(self, last: str = "save", force: bool = False) -> list[tuple[Target, list[StagePlan]]]:
        wanted = stages_for(last) if last != "build" else list(BUILD)
        forced = set(wanted if last == "build" else [last]) if force else set()
        result = []
        self._keys, self._inputs = {}, {}  # inputs are read afresh for every plan
        for t in self.targets():
            state = State(t.state_path)
            stages = []
            for name in wanted:
                stage = BY_NAME[name]
                if not stage.applies(t):
                    continue
                key = self.key(name, t)
                summary, commands = stage.describe(self.ctx, t)
                record = state.get(name)
                if record is None:
                    current, reason = False, "never built"
                elif record.get("key") != key:
                    current, reason = False, "inputs changed"
                else:
                    current, reason = self.output_current(name, t, record)
                stages.append(StagePlan(name, key, self._inputs[(name, t.label)], summary, commands, current, reason,
                                        forced=name in forced))
            result.append((t, stages))
        return result

    def format_plan(self, plan: list[tuple[Target, list[StagePlan]]]) -> str:
        lines = []
        for t, stages in plan:
            lines.append(f"plan for {t.label}: rpm arch {t.arch.rpm}, platform {t.arch.platform}")
            lines.append(f"  mode {t.mode.name}: {t.mode.reason}{t.expected_time}")
            for sp in stages:
                status = "run " if sp.will_run else "skip"
                why = "forced" if sp.forced else sp.reason
                lines.append(f"  [{status}] {sp.stage:<9} key {sp.key[:16]}  ({why})")
                lines.extend(f"           {line}" for line in sp.summary)
                lines.extend(f"           $ {cmd}" for cmd in sp.commands)
        return "\n".join(lines)

    def run(self, last: str = "build", force: bool = False) -> list[Target]:
        plan = self.plan(last, force)
        # The docker client, and the --builder when one is named, are checked before any stage
        # runs: a wrong builder name must not wait behind a debootstrap under QEMU.
        self.engine.client
        done = []
        for t, stages in plan:
            with self._locked(t), self.reporter.step(f"{t.label}"):
                state = State(t.state_path)
                for sp in stages:
                    # An upstream stage that ran drops this record: look again.
                    record = state.get(sp.stage)
                    if not sp.forced and record is not None and record.get("key") == sp.key:
                        current, why = self.output_current(sp.stage, t, record)
                        if current:
                            self.reporter.note(f"{sp.stage}: up to date, skipped (key {sp.key[:16]})")
                            continue
                        # Same inputs, but what it made is gone or what it checked against changed: say so.
                        self.reporter.note(f"{sp.stage}: runs again, {why}")
                    with self.reporter.step(f"{sp.stage} (key {sp.key[:16]})"):
                        output = BY_NAME[sp.stage].run(self.ctx, t, sp.forced)
                    state.record(sp.stage, sp.key, output, invalidates=downstream(sp.stage))
            done.append(t)
        return done

    @contextmanager
    def _locked(self, t: Target) -> Iterator[None]:
        t.build_dir.mkdir(parents=True, exist_ok=True)
        with open(t.build_dir / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PipelineError(f"another build of {t.label} is running (lock {t.build_dir / '.lock'})",
                                    "wait for it to finish, or stop it") from None
            yield
