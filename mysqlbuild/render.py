"""Templates to text.  Pure: data in, text out; a missing variable is an error."""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Mapping

import jinja2

from . import ROOT
from .errors import PipelineError

TEMPLATES_DIR = ROOT / "dockerfiles"


class RenderError(PipelineError):
    pass


def _environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["shquote"] = lambda value: shlex.quote(str(value))
    env.filters["json"] = lambda value: json.dumps(value)
    return env


def render(template: str, context: Mapping[str, Any], templates_dir: Path = TEMPLATES_DIR) -> str:
    env = _environment(templates_dir)
    try:
        return env.get_template(template).render(**context)
    except jinja2.UndefinedError as exc:
        raise RenderError(f"template {templates_dir / template}: {exc.message}",
                          "the template uses a variable the pipeline does not provide; "
                          "fix the template or pass the variable") from None
    except jinja2.TemplateNotFound:
        raise RenderError(f"template {templates_dir / template} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"template {exc.filename or template} line {exc.lineno}: {exc.message}") from None
