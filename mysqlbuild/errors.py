"""Expected failures of the pipeline.

Every error the user can cause or fix (a bad recipe, no network, a wrong
checksum, a failed compile) is a PipelineError: one message saying what
failed, and a hint saying what to do next.  The task layer prints it and
exits non-zero, never a traceback.
"""
from __future__ import annotations


class PipelineError(Exception):
    """A failure the user can act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class RecipeError(PipelineError):
    """The recipe (or an option naming part of it) is not valid."""


class ConfigError(PipelineError):
    """An option, environment variable or invoke.yaml value is not valid."""


class FetchError(PipelineError):
    """A source could not be downloaded."""


class ChecksumError(FetchError):
    """A file's sha256 is not the one the recipe pins."""


class EngineError(PipelineError):
    """Docker is missing, unreachable or lacks a needed capability; or another program the pipeline runs."""


class ProgramMissing(EngineError):
    """A program the pipeline runs is not installed on this host (proc.py names what to install)."""


class CommandError(PipelineError):
    """An external command failed; carries what is needed to act on it."""

    def __init__(self, message: str, *, command: list[str] | str, exit_code: int,
                 log_tail: str = "", log_path: str | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.command = command
        self.returncode = exit_code
        self.log_tail = log_tail
        self.log_path = log_path

    def render(self) -> str:
        import shlex

        cmd = self.command if isinstance(self.command, str) else shlex.join(self.command)
        lines = [f"error: {self.message}", f"command: {cmd}", f"exit code: {self.returncode}"]
        if self.log_tail:
            lines.append("last lines of the log:")
            lines.extend("  | " + line for line in self.log_tail.rstrip("\n").splitlines())
        if self.log_path:
            lines.append(f"full log: {self.log_path}")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class CheckError(PipelineError):
    """A built artifact (RPM, image, archive) failed a check."""


class Interrupted(PipelineError):
    exit_code = 130

    def __init__(self):
        super().__init__("interrupted (Ctrl-C); nothing half-made was kept",
                         "run the same command again to continue from the last finished stage")
