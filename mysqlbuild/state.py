"""The state file of one target: each stage's key, its recorded output and when it finished."""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Iterable


class State:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.data: dict[str, dict] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            self.data = {}

    def get(self, stage: str) -> dict | None:
        return self.data.get(stage)

    def output(self, stage: str) -> dict:
        """What `stage` recorded as its output ({} when it has not run)."""
        return (self.get(stage) or {}).get("output", {})

    def record(self, stage: str, key: str, output: dict, invalidates: Iterable[str] = ()) -> None:
        """Record a finished stage, and drop the records of the stages built on it."""
        self.data[stage] = {"key": key, "output": output,
                            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        for other in invalidates:
            self.data.pop(other, None)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(".state.json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)
