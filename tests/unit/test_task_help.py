"""Every task's --help reads like Invoke users expect: each option listed with help text, no broken flag,
and one-letter flags only for the few options people type often."""
from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys

from fixtures import ROOT
from invoke import Collection

INVOKE = [sys.executable, "-m", "invoke"]

# The only short flags allowed, and the long option each one stands for.
SHORT_FLAGS = {"-a": "--arch", "-v": "--version", "-n": "--dry-run", "-f": "--force", "-j": "--jobs"}

# One flag as Invoke prints it: "-a", "-a STRING", "--arch", "--arch=STRING", "--[no-]thing".
FLAG = re.compile(r"(?P<flag>-[A-Za-z0-9]|--(?:\[no-\])?[a-z0-9][a-z0-9-]*)(?:[ =](?P<kind>[A-Z]+))?")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQLBUILD_")}
    full_env.update(env or {})
    return subprocess.run([*INVOKE, *args], cwd=ROOT, capture_output=True, text=True, env=full_env, timeout=120,
                          check=False)


def listed_tasks() -> list[str]:
    proc = run("--list")
    assert proc.returncode == 0, proc.stderr
    return [line.split()[0] for line in proc.stdout.splitlines()[1:]
            if line.strip() and line.startswith("  ") and not line.startswith("    ")]


def project_tasks() -> dict:
    spec = importlib.util.spec_from_file_location("project_tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Collection.from_module(module).tasks


def signature_options(task) -> list[str]:
    """--long-name of each parameter of the task's function (all but the context)."""
    params = list(inspect.signature(task.body).parameters)[1:]
    return ["--" + name.replace("_", "-") for name in params]


def help_options(text: str) -> tuple[dict[str, tuple[list[str], str]], list[str]]:
    """From `invoke --help TASK`: {long option: (its short flags, its help text)}, and the problems seen."""
    lines = text.splitlines()
    if "Options:" not in lines:
        return {}, ["no Options: section"]
    options: dict[str, tuple[list[str], str]] = {}
    problems: list[str] = []
    current = None
    for line in lines[lines.index("Options:") + 1:]:
        if not line.strip():
            current = None
            continue
        if line.startswith("  ") and not line.startswith("   "):  # an option's first line
            column, _, help_text = line.strip().partition("  ")
            shorts, longs = [], []
            for piece in column.split(", "):
                match = FLAG.fullmatch(piece)
                if not match:
                    problems.append(f"malformed flag {piece!r} in {line.strip()!r}")
                    continue
                flag = match["flag"].replace("[no-]", "")
                (shorts if len(flag) == 2 else longs).append(flag)
            if len(longs) != 1:
                problems.append(f"not one long option in {line.strip()!r}")
                current = None
                continue
            current = longs[0]
            options[current] = (shorts, help_text.strip())
        elif current is not None:  # the help text goes on
            shorts, help_text = options[current]
            options[current] = (shorts, f"{help_text} {line.strip()}".strip())
    return options, problems


def check_help(task_name: str, task, text: str) -> list[str]:
    options, problems = help_options(text)
    expected = signature_options(task)
    for missing in sorted(set(expected) - set(options)):
        problems.append(f"{missing} is not listed")
    for extra in sorted(set(options) - set(expected)):
        problems.append(f"{extra} is listed but is no option of the task")
    for long, (shorts, help_text) in options.items():
        if not help_text:
            problems.append(f"{long} has no help text")
        for short in shorts:
            if SHORT_FLAGS.get(short) != long:
                problems.append(f"{short} given to {long} (allowed: "
                                + ", ".join(f"{s} {lg}" for s, lg in SHORT_FLAGS.items()) + ")")
    for short, long in SHORT_FLAGS.items():
        if long in options and short not in options[long][0]:
            problems.append(f"{long} lacks its short flag {short}")
    return [f"{task_name}: {p}" for p in problems]


def test_help_parser_catches_what_invoke_printed_before():
    # Guards this test: the help of `invoke build` as Invoke's automatic short flags made it.
    task = project_tasks()["build"]
    old = ("Options:\n"
           "  --=STRING, --rpm-without=STRING   rpm conditionals to switch off, comma list\n"
           "  -a STRING, --arch=STRING          target architecture\n"
           "  -y, --dry-run                     print the plan\n"
           "  -u STRING, --builder=STRING\n"
           "  -j STRING, --jobs=STRING          parallel compile jobs\n")
    problems = check_help("build", task, old)
    assert "build: malformed flag '--=STRING' in '--=STRING, --rpm-without=STRING   rpm conditionals to switch " \
           "off, comma list'" in problems
    assert "build: -y given to --dry-run (allowed: -a --arch, -v --version, -n --dry-run, -f --force, -j --jobs)" \
           in problems
    assert "build: --dry-run lacks its short flag -n" in problems
    assert "build: --builder has no help text" in problems
    assert "build: --recipe is not listed" in problems
    assert not [p for p in problems if p.startswith(("build: --arch", "build: -a ", "build: --jobs", "build: -j "))]


def test_every_task_help_lists_each_option_with_help_and_only_the_agreed_short_flags():
    tasks = project_tasks()
    names = listed_tasks()
    assert sorted(names) == sorted(tasks)
    problems = []
    for name in names:
        proc = run("--help", name)
        assert proc.returncode == 0, proc.stderr
        problems += check_help(name, tasks[name], proc.stdout)
    assert problems == []


def test_help_after_the_task_name_is_the_same_help_or_says_where_it_is():
    tasks = project_tasks()
    for name in listed_tasks():
        proc = run(name, "--help")
        if tasks[name].positional:
            # Invoke reads the word after the task name as its positional argument, even --help
            # (pyinvoke/invoke#982): the task refuses it and points to the help, running nothing.
            assert proc.returncode == 1, (name, proc.stdout, proc.stderr)
            assert proc.stderr.startswith("error: '--help' was taken as the "), (name, proc.stderr)
            assert f"hint: for this task's help: invoke --help {name}" in proc.stderr, (name, proc.stderr)
            assert "Traceback" not in proc.stderr
        else:
            assert proc.returncode == 0, (name, proc.stderr)
            assert proc.stdout == run("--help", name).stdout, name


def test_no_task_takes_a_positional_argument():
    # Invoke gives a missing positional argument the next word, even --help (pyinvoke/invoke#982): what a task
    # cannot do without is a required option instead (invoke load --archive FILE, invoke push --registry HOST).
    assert {name: task.positional for name, task in project_tasks().items() if task.positional} == {}


def test_push_and_load_answer_help_with_their_help():
    for name, option in (("push", "--registry"), ("load", "--archive")):
        proc = run(name, "--help")
        assert proc.returncode == 0, (name, proc.stderr)
        assert proc.stdout.startswith(f"Usage: inv[oke] [--core-opts] {name} [--options]"), proc.stdout
        assert f"  {option}=STRING " in proc.stdout and proc.stderr == ""
        assert proc.stdout == run("--help", name).stdout
        assert check_help(name, project_tasks()[name], proc.stdout) == []


def test_push_and_load_without_their_required_option_say_which_and_where_the_help_is():
    for name, option in (("push", "--registry"), ("load", "--archive")):
        proc = run(name)
        assert proc.returncode == 1
        assert proc.stderr.startswith(f"error: invoke {name} needs {option}\nhint: e.g. invoke {name} {option} ")
        assert f"all its options: invoke {name} --help" in proc.stderr and "Traceback" not in proc.stderr


def test_the_short_flags_work(tmp_path):
    proc = run("build", "-n", "-a", "amd64", "-v", "5.7.44", "-j", "2", "-f",
               env={"MYSQLBUILD_BUILD_DIR": str(tmp_path / "b")})
    assert proc.returncode == 0, proc.stderr
    assert "plan for mysql57 5.7.44" in proc.stdout and "platform linux/amd64" in proc.stdout
    assert "linux/arm64" not in proc.stdout
    assert "dry run: nothing was run" in proc.stdout
    assert not (tmp_path / "b").exists()
