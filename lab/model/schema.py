"""Parameter schemas: every experiment knob has a type, a range and a default, and bad input names them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lab.model.routing import BINDING_RULE, FILTER_RULE, check_binding, check_filter

Kind = Literal["int", "float", "bool", "choice", "text"]
# Text knobs are written in a small language; each syntax checks a value and says what it accepts.
TEXT_SYNTAXES = {
    "binding": (check_binding, f"a binding pattern: {BINDING_RULE}"),
    "filter": (check_filter, "empty (everything passes) or " + FILTER_RULE.removeprefix("must ")),
}
MAX_TEXT = 200


class ParamError(ValueError):
    """One field failed validation; `field` is the dotted name the learner sent."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class ConfigError(ValueError):
    """Several fields failed; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Param:
    """One knob. `live` knobs may be toggled while a run is going; the rest are fixed at start."""

    name: str
    kind: Kind
    default: Any
    label: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    live: bool = False
    group: str = "run"
    help: str = ""
    syntax: str = ""  # for text knobs: a key of TEXT_SYNTAXES

    def allowed(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "text":
            return TEXT_SYNTAXES[self.syntax][1]
        noun = "a whole number" if self.kind == "int" else "a number"
        unit = f" {self.unit}" if self.unit else ""
        return f"{noun} from {_fmt(self.minimum)} to {_fmt(self.maximum)}{unit}"

    def validate(self, value: Any, *, field_name: str | None = None) -> Any:
        name = field_name or self.name
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ParamError(name, f"must be {self.allowed()}, got {value!r}")
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise ParamError(name, f"must be {self.allowed()}, got {value!r}")
        if self.kind == "text":
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise ParamError(name, f"must be text of at most {MAX_TEXT} characters: {self.allowed()}")
            try:
                return TEXT_SYNTAXES[self.syntax][0](value.strip())
            except ValueError:
                raise ParamError(name, f"must be {self.allowed()}, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamError(name, f"must be {self.allowed()}, got {value!r}")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ParamError(name, f"must be {self.allowed()}, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        assert self.minimum is not None and self.maximum is not None
        if not self.minimum <= value <= self.maximum:
            raise ParamError(name, f"must be {self.allowed()}, got {_fmt(value)}")
        return value

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.kind,
            "label": self.label,
            "default": self.default,
            "live": self.live,
            "group": self.group,
        }
        if self.kind in ("int", "float"):
            data.update(minimum=self.minimum, maximum=self.maximum, unit=self.unit)
        if self.kind == "choice":
            data["choices"] = list(self.choices)
        if self.kind == "text":
            data["syntax"] = self.syntax
        if self.help:
            data["help"] = self.help
        return data


def _fmt(number: float | None) -> str:
    if number is None:
        return "?"
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


@dataclass(frozen=True)
class Schema:
    params: tuple[Param, ...]
    by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, raw: dict[str, Any], *, prefix: str = "config", live_only: bool = False) -> dict[str, Any]:
        """Check every field; report all problems at once, each naming its field and allowed range."""
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        for name, value in raw.items():
            dotted = f"{prefix}.{name}" if prefix else name
            param = self.by_name.get(name)
            if param is None:
                errors[dotted] = "unknown parameter; see GET /lab/api/experiments for the names"
                continue
            if live_only and not param.live:
                errors[dotted] = "is fixed when the run starts and cannot be toggled"
                continue
            try:
                clean[name] = param.validate(value, field_name=dotted)
            except ParamError as exc:
                errors[dotted] = exc.message
        if errors:
            raise ConfigError(errors)
        return clean
