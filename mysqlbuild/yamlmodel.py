"""YAML files read into declared models (pydantic), and the JSON Schemas made from those models.

The project reads two kinds of YAML file: recipes (recipe.py) and the Docker pin file
(hostdocker/pins.py).  Their modules only declare fields; this module owns what they share:

- `Model`, the base of every model: a key the model does not declare, a missing required key and
  anything that is not a mapping are refused, naming the keys allowed there;
- `Check`, one constraint declared once: the loader's test with its message and hint, and the
  keywords the JSON Schema gets for it (a pattern, the allowed values, a minimum count);
- the field types several files use (`Text`, `Entries`, `Names`, `Sha256`, `FileName`, `Urls`, ...),
  and `fail()` and `must_name_one_of()`, for the checks a model makes across its fields;
- `read()`: a file validated against its model; every mistake becomes one PipelineError naming the
  file, the key path (``bases.debian12.cross``), what was expected and what was found, with a hint;
- `json_schema()`: a model's JSON Schema (draft-07, which editors' YAML language servers read).
  schemas.py publishes them under schema/.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Optional, Sequence, Tuple, Type, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError, core_schema

from .errors import PipelineError

ERROR_TYPE = "mysqlbuild"          # the pydantic error type of our own checks
URL_SCHEMES = ("http://", "https://", "file://")
SHA256_PATTERN = r"^[0-9a-f]{64}$"


def fail(message: str, hint: Optional[str] = None, at: Sequence[str | int] = ()) -> None:
    """Refuse a value; `at` names the key under the one being validated (for checks across fields)."""
    raise PydanticCustomError(ERROR_TYPE, "{message}", {"message": message, "hint": hint, "at": tuple(at)})


def must_name_one_of(value: str, entries: Iterable[str], what: str, key: str) -> None:
    """For a key that names an entry of a mapping (default_version names one of the versions)."""
    listed = list(entries)
    if value not in listed:
        fail(f"{value!r} is not one of the {what}", f"{what}: {', '.join(listed)}", at=(key,))


def kind(value: Any) -> str:
    """What was found, for a message: nothing, boolean True, a mapping, a list, str 'x', int 5."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


class Check:
    """A constraint, declared once: `test` and its message for the loader, `schema` for the JSON Schema.

    Put it into a type: ``Annotated[str, Check.pattern(r"^[0-9a-f]{64}$", "{value!r} is not a sha256")]``.
    The message may show the value found as ``{value!r}``.
    """

    def __init__(self, test: Callable[[Any], bool], message: str, hint: Optional[str] = None, **schema: Any):
        self.test, self.message, self.hint, self.schema = test, message, hint, schema

    @classmethod
    def pattern(cls, regex: str, message: str, hint: Optional[str] = None) -> "Check":
        compiled = re.compile(regex)
        return cls(lambda value: compiled.search(value) is not None, message, hint, pattern=regex)

    @classmethod
    def one_of(cls, values: Iterable[str], message: str, hint: Optional[str] = None) -> "Check":
        allowed = tuple(values)
        return cls(lambda value: value in allowed, message, hint, enum=list(allowed))

    @classmethod
    def not_empty(cls, message: str, hint: Optional[str] = None, **schema: Any) -> "Check":
        return cls(lambda value: len(value) > 0, message, hint, **schema)

    def validate(self, value: Any) -> Any:
        if not self.test(value):
            fail(self.message.format(value=value), self.hint)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.validate, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        out = dict(handler(schema))
        for key, value in self.schema.items():
            if key == "pattern" and "pattern" in out:      # a second pattern: both must match
                out.setdefault("allOf", []).append({"pattern": value})
            else:
                out[key] = value
        return out


def _none_is_empty(value: Any) -> Any:
    return () if value is None else value      # `setup:` with nothing after it: no entries


Text = Annotated[str, Check(lambda value: bool(value.strip()), "must be a non-empty string, found str {value!r}",
                            minLength=1)]
T = TypeVar("T")
Entries = Annotated[Tuple[T, ...], BeforeValidator(_none_is_empty)]    # a list that may be left empty: Entries[X]
Names = Entries[Text]
NonEmptyNames = Annotated[Tuple[Text, ...], Check.not_empty("must list at least one entry", minItems=1)]
Sha256 = Annotated[Text, Check.pattern(SHA256_PATTERN, "{value!r} is not a sha256",
                                       "a sha256 is 64 lowercase hexadecimal digits, as printed by sha256sum")]
FileName = Annotated[Text, Check.pattern(r"^(?!\.\.?$)[^/]+$", "{value!r} must be a plain file name, without folders")]
Url = Annotated[Text, Check.pattern("^(" + "|".join(re.escape(s) for s in URL_SCHEMES) + ")", "{value!r} is not a URL",
                                    f"allowed schemes: {', '.join(URL_SCHEMES)}")]
Urls = Annotated[Tuple[Url, ...], Check.not_empty("must list at least one entry", minItems=1)]


class Model(BaseModel):
    """The base of every model of a file: frozen, and strict about its keys.

    A key that may be left out has a default; where leaving it out means "none" (an optional
    section), the default is None and the annotation the type of what may be written there:
    ``mtr: MtrYaml = None``.  Written with nothing after it, such a key is refused, as a typo
    that emptied a section should be.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True,
                              use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            fail(f"must be a mapping, found {kind(data)}")
        allowed = tuple(cls.model_fields)
        hint = f"allowed keys here: {', '.join(allowed)}"
        for key in data:
            if key not in allowed:
                fail(f"unknown key {key!r}", hint)
        for name, info in cls.model_fields.items():
            if info.is_required() and name not in data:
                fail(f"missing required key {name!r}", hint)
        return data


M = TypeVar("M", bound=BaseModel)

# pydantic's own errors, as this project words them (the value found is appended).
EXPECTED = {
    "string_type": "must be a non-empty string", "int_type": "must be an integer",
    "int_parsing": "must be an integer", "int_from_float": "must be an integer",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "list_type": "must be a list", "tuple_type": "must be a list",
    "dict_type": "must be a mapping", "model_type": "must be a mapping", "model_attributes_type": "must be a mapping",
}


def key_path(loc: Iterable[str | int]) -> str:
    """versions.1.0.sources[0].sha256: mapping keys joined by dots, list positions in brackets."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":                   # pydantic's mark of an error in a mapping's key
            text += f".{part}" if text else str(part)
    return text


def explain(file: Path, error: ValidationError, error_class: Type[PipelineError]) -> PipelineError:
    """The first of pydantic's errors as one message: file, key path, what was expected, what was found."""
    first = error.errors(include_url=False)[0]
    loc, ctx = tuple(first["loc"]), first.get("ctx") or {}
    hint = None
    if first["type"] == ERROR_TYPE:
        loc, message, hint = loc + tuple(ctx.get("at", ())), ctx["message"], ctx.get("hint")
    elif first["type"] in ("missing", "extra_forbidden"):   # the base model checks keys first; kept for safety
        word = "missing required" if first["type"] == "missing" else "unknown"
        loc, message = loc[:-1], f"{word} key {loc[-1]!r}"
    else:
        expected = EXPECTED.get(first["type"], first["msg"])
        message = f"{expected}, found {kind(first['input'])}"
    where = key_path(loc)
    place = f"{file}: {where}" if where else str(file)
    return error_class(f"{place}: {message}", hint)


def read(file: Path, model: Type[M], error_class: Type[PipelineError], context: Optional[dict] = None) -> M:
    """The file validated against `model`; a mistake is one `error_class` naming file, key path and fix."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error_class(f"{file}: not valid YAML: {exc}", "fix the syntax at the line shown") from None
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise explain(file, exc, error_class) from None


# --- the JSON Schema ------------------------------------------------------------------------

DRAFT = "http://json-schema.org/draft-07/schema#"


class _Draft7(GenerateJsonSchema):
    """pydantic's generator, made to say what an author may write, in the draft editors read best."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False                            # the key is its own title

    def default_schema(self, schema: Any) -> dict[str, Any]:
        default = schema.get("default")
        if default is None or default == "" or isinstance(default, BaseModel):    # "none", or a whole section
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def dict_schema(self, schema: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object"}
        keys = dict(self.generate_inner(schema["keys_schema"])) if "keys_schema" in schema else {}
        keys.pop("type", None)
        if keys:
            out["propertyNames"] = keys
        if "values_schema" in schema:
            values = self.generate_inner(schema["values_schema"])
            if values:
                out["additionalProperties"] = values
        return out


def _lone_refs(node: Any) -> Any:
    """Draft-07 ignores whatever stands beside a $ref: a described reference becomes allOf: [$ref]."""
    if isinstance(node, list):
        return [_lone_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _lone_refs(value) for key, value in node.items()}
    if "$ref" in node and len(node) > 1:
        node["allOf"] = [{"$ref": node.pop("$ref")}]
    return node


def json_schema(model: Type[BaseModel], title: str, description: str) -> dict[str, Any]:
    """The JSON Schema of a file's model, draft-07, its definitions under #/definitions."""
    generated = model.model_json_schema(schema_generator=_Draft7, ref_template="#/definitions/{model}")
    definitions = generated.pop("$defs", {})
    generated.pop("title", None)
    generated.pop("description", None)
    head = {"$schema": DRAFT, "title": title, "description": description}
    return _lone_refs({**head, **generated, **({"definitions": definitions} if definitions else {})})
