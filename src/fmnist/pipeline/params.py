"""The one strict loader of params.yaml: frozen dataclasses, every key checked before any work."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fmnist.core.dataset import IMAGE_SHAPE, TEST_SIZE
from fmnist.core.errors import FmnistError
from fmnist.core.paths import PARAMS


class ParamsError(FmnistError):
    """params.yaml is unreadable, or a key is unknown, missing, mistyped or out of range."""


def _bounds(low: float | None = None, high: float | None = None, *, open_low: bool = False):
    """Field metadata: a number's range [low, high], or (low, high] with open_low."""
    return {"low": low, "high": high, "open_low": open_low}


@dataclass(frozen=True)
class PrepareParams:
    mirrors: tuple[str, ...]
    download_timeout_s: float = field(metadata=_bounds(0, 3600, open_low=True))


@dataclass(frozen=True)
class CnnParams:
    filters: tuple[int, ...] = field(metadata=_bounds(1, 1024))
    kernel_size: int = field(metadata=_bounds(1, 7))
    dense_units: int = field(metadata=_bounds(1, 65_536))
    dropout: float = field(metadata=_bounds(0, 0.9))
    dense_dropout: float = field(metadata=_bounds(0, 0.9))
    batch_norm: bool

    def __post_init__(self) -> None:
        # Each block's 2x2 max pooling halves the side, rounding down: 28, 14, 7, 3, 1, then 0.
        side = IMAGE_SHAPE[0] >> len(self.filters)
        if side < 1:
            raise ParamsError(
                f"train.cnn.filters: {len(self.filters)} blocks would pool the 28x28 image below "
                f"one pixel; at most {IMAGE_SHAPE[0].bit_length() - 1}"
            )


@dataclass(frozen=True)
class TrainParams:
    model: typing.Literal["dense", "cnn"]
    seed: int = field(metadata=_bounds(0, 2**31 - 1))
    epochs: int = field(metadata=_bounds(1, 1000))
    batch_size: int = field(metadata=_bounds(1, 60_000))
    hidden_units: int = field(metadata=_bounds(1, 65_536))
    learning_rate: float = field(metadata=_bounds(0, 10, open_low=True))
    lr_schedule: typing.Literal["constant", "cosine"]
    warmup_epochs: int = field(metadata=_bounds(0, 1000))
    label_smoothing: float = field(metadata=_bounds(0, 0.5))
    flip: bool
    shift: int = field(metadata=_bounds(0, 8))
    test_time_flip: bool
    cnn: CnnParams

    def __post_init__(self) -> None:
        if self.warmup_epochs >= self.epochs:
            raise ParamsError(
                f"train.warmup_epochs: {self.warmup_epochs} leaves no epoch after the warm-up "
                f"of train.epochs: {self.epochs}"
            )


@dataclass(frozen=True)
class PredictParams:
    samples: tuple[int, ...] = field(metadata=_bounds(0, TEST_SIZE - 1))
    tolerance: float = field(metadata=_bounds(0, 1, open_low=True))


@dataclass(frozen=True)
class Params:
    prepare: PrepareParams
    train: TrainParams
    predict: PredictParams


def _printable(key: Any) -> str:
    """A key as written, or quoted when it holds spaces or control characters (one line)."""
    text = str(key)
    return text if text.isprintable() and text.strip() == text and text else repr(key)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_scalar(key: str, kind: type, value: Any, meta: typing.Mapping[str, Any]) -> Any:
    """Check one scalar against its declared type and range; ints are accepted where floats are."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if typing.get_origin(kind) is typing.Literal:
        choices = typing.get_args(kind)
        if value not in choices or not isinstance(value, str):
            allowed = ", ".join(choices)
            raise ParamsError(
                f"{key}: expected one of {allowed}, got {_type_name(value)} {value!r}"
            )
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key}: expected true or false, got {_type_name(value)} {value!r}")
        return value
    if kind is int and not (is_number and isinstance(value, int)):
        raise ParamsError(f"{key}: expected an integer, got {_type_name(value)} {value!r}")
    if kind is float:
        if not is_number:
            hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) else ""
            raise ParamsError(f"{key}: expected a number, got {_type_name(value)} {value!r}{hint}")
        try:
            value = float(value)
        except OverflowError:
            raise ParamsError(f"{key}: {value} is too large for a number") from None
        if not math.isfinite(value):
            raise ParamsError(f"{key}: must be finite, got {value!r}")
    if kind is str and not (isinstance(value, str) and value):
        raise ParamsError(f"{key}: expected a non-empty string, got {_type_name(value)} {value!r}")
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value <= low if meta["open_low"] else value < low):
        raise ParamsError(
            f"{key}: {value!r} is out of range, must be {'>' if meta['open_low'] else '>='} {low}"
        )
    if high is not None and value > high:
        raise ParamsError(f"{key}: {value!r} is out of range, must be <= {high}")
    return value


def _check_value(key: str, hint: Any, value: Any, meta: typing.Mapping[str, Any]) -> Any:
    if typing.get_origin(hint) is tuple:
        (item_kind, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list) or not value:
            raise ParamsError(
                f"{key}: expected a non-empty list, got {_type_name(value)} {value!r}"
            )
        return tuple(_check_scalar(f"{key}[{i}]", item_kind, v, meta) for i, v in enumerate(value))
    return _check_scalar(key, hint, value, meta)


def _build(cls: type, prefix: str, raw: Any) -> Any:
    """Build dataclass `cls` from mapping `raw`, rejecting unknown, missing and bad keys."""
    if not isinstance(raw, dict):
        where = prefix.rstrip(".") or "params.yaml"
        raise ParamsError(f"{where}: expected a mapping, got {_type_name(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            known = ", ".join(fields)
            raise ParamsError(f"{prefix}{_printable(key)}: unknown key (known here: {known})")
    values = {}
    for name, spec in fields.items():
        key = f"{prefix}{name}"
        if name not in raw:
            raise ParamsError(f"{key}: missing")
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, f"{key}.", raw[name])
        else:
            values[name] = _check_value(key, hint, raw[name], spec.metadata)
    return cls(**values)


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error (PyYAML would
    keep the last value silently), and so is an alias: params need none, and DVC's own parser
    expands them (a "billion laughs" file grows it to 8 GB)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ParamsError(
                f"params.yaml: alias *{event.anchor} at line {event.start_mark.line + 1}; "
                "params take no anchors or aliases, write the value out"
            )
        return super().compose_node(parent, index)


def _unique_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    lines: dict[Any, int] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = lines.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:  # an unhashable key: construct_mapping says so below
            continue
        if first != key_node.start_mark.line + 1:
            raise ParamsError(
                f"params.yaml: key {_printable(key)} given twice "
                f"(lines {first} and {key_node.start_mark.line + 1})"
            )
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's error as one line: where, and a tab named as such (PyYAML says "found character
    '\\t' that cannot start any token", which reads as nothing to most people)."""
    where = getattr(error, "problem_mark", None)
    line = f" at line {where.line + 1}" if where else ""
    problem = getattr(error, "problem", None) or ""
    if "'\\t'" in problem:
        column = f", column {where.column + 1}" if where else ""
        return f"a tab character{line}{column}; YAML indents with spaces only"
    return f"invalid YAML{line}" + (f" ({problem})" if problem else "")


def parse_params(text: str) -> Params:
    """Parse and validate the text of a params.yaml."""
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # safe: a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ParamsError(f"params.yaml: {_yaml_problem(error)}") from None
    return _build(Params, "", raw)


def load_params(path: Path = PARAMS) -> Params:
    """Read and validate params.yaml."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ParamsError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not UTF-8 text") from None
    return parse_params(text)
