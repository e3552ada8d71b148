"""The strict params.yaml loader: every bad key is rejected with a one-line message naming it."""

from __future__ import annotations

import copy
import dataclasses
import shlex
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from fmnist.pipeline.params import Params, ParamsError, load_params, parse_params

from ..conftest import ROOT

REAL_TEXT = (ROOT / "params.yaml").read_text()


def real_raw() -> dict[str, Any]:
    """A fresh, mutable copy of the real params.yaml as plain YAML data."""
    return copy.deepcopy(yaml.safe_load(REAL_TEXT))


def setter(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        raw[section][key] = value

    return mutate


def deleter(section: str, key: str | None = None) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        if key is None:
            del raw[section]
        else:
            del raw[section][key]

    return mutate


def adder(section: str | None, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        (raw if section is None else raw[section])[key] = value

    return mutate


def assert_rejected(text: str, *fragments: str) -> ParamsError:
    with pytest.raises(ParamsError) as info:
        parse_params(text)
    message = str(info.value)
    assert "\n" not in message, f"message is not one line: {message!r}"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return info.value


def cnn_setter(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        raw["train"]["cnn"][key] = value

    return mutate


# (test id, mutation of the real params, fragments the message must contain)
BAD_MUTATIONS = [
    # structure
    ("unknown-section", adder(None, "tune", {"epochs": 3}), ["tune", "unknown key"]),
    ("unknown-key", adder("train", "dropout", 0.2), ["train.dropout", "unknown key"]),
    ("missing-section", deleter("predict"), ["predict", "missing"]),
    ("missing-key", deleter("train", "epochs"), ["train.epochs", "missing"]),
    ("missing-timeout", deleter("prepare", "download_timeout_s"), ["prepare.download_timeout_s"]),
    ("section-not-mapping", lambda raw: raw.update(train=5), ["train", "expected a mapping"]),
    # types
    ("str-for-int", setter("train", "epochs", "10"), ["train.epochs", "expected an integer"]),
    ("float-for-int", setter("train", "epochs", 10.0), ["train.epochs", "expected an integer"]),
    ("bool-for-int", setter("train", "epochs", True), ["train.epochs", "expected an integer"]),
    ("null-for-int", setter("train", "seed", None), ["train.seed", "null"]),
    ("list-for-int", setter("train", "batch_size", [32]), ["train.batch_size", "integer"]),
    ("list-for-float", setter("train", "learning_rate", [0.001]), ["train.learning_rate"]),
    ("bool-for-float", setter("predict", "tolerance", False), ["predict.tolerance", "number"]),
    ("scalar-for-list", setter("predict", "samples", 3), ["predict.samples", "list"]),
    ("str-for-list", setter("prepare", "mirrors", "https://x"), ["prepare.mirrors", "list"]),
    (
        "str-in-int-list",
        setter("predict", "samples", [0, "1"]),
        ["predict.samples[1]", "expected an integer"],
    ),
    ("int-in-str-list", setter("prepare", "mirrors", [5]), ["prepare.mirrors[0]", "string"]),
    ("empty-mirror", setter("prepare", "mirrors", [""]), ["prepare.mirrors[0]", "non-empty"]),
    (
        "lr-as-text",
        setter("train", "learning_rate", "1e-3"),
        ["train.learning_rate", "expected a number", "1.0e-3"],
    ),
    # ranges
    ("epochs-zero", setter("train", "epochs", 0), ["train.epochs", "out of range"]),
    ("epochs-too-many", setter("train", "epochs", 1001), ["train.epochs", "out of range"]),
    ("batch-negative", setter("train", "batch_size", -32), ["train.batch_size", "out of range"]),
    ("lr-zero", setter("train", "learning_rate", 0), ["train.learning_rate", "out of range"]),
    ("lr-negative", setter("train", "learning_rate", -0.1), ["train.learning_rate", "range"]),
    ("seed-negative", setter("train", "seed", -1), ["train.seed", "out of range"]),
    ("timeout-zero", setter("prepare", "download_timeout_s", 0), ["download_timeout_s", "range"]),
    ("tolerance-zero", setter("predict", "tolerance", 0.0), ["predict.tolerance", "range"]),
    (
        "sample-10000",
        setter("predict", "samples", [0, 10000]),
        ["predict.samples[1]", "10000", "out of range"],
    ),
    (
        "sample-negative",
        setter("predict", "samples", [-1, 2]),
        ["predict.samples[0]", "-1", "out of range"],
    ),
    ("samples-empty", setter("predict", "samples", []), ["predict.samples", "non-empty list"]),
    ("mirrors-empty", setter("prepare", "mirrors", []), ["prepare.mirrors", "non-empty list"]),
    # non-finite floats
    ("lr-nan", setter("train", "learning_rate", float("nan")), ["train.learning_rate", "finite"]),
    ("lr-inf", setter("train", "learning_rate", float("inf")), ["train.learning_rate", "finite"]),
    (
        "tolerance-minus-inf",
        setter("predict", "tolerance", float("-inf")),
        ["predict.tolerance", "finite"],
    ),
    (
        "timeout-nan",
        setter("prepare", "download_timeout_s", float("nan")),
        ["prepare.download_timeout_s", "finite"],
    ),
    # the architecture choice and the CNN's own section, checked whichever model is chosen
    ("model-unknown", setter("train", "model", "resnet"), ["train.model", "dense, cnn", "resnet"]),
    ("model-not-str", setter("train", "model", 1), ["train.model", "one of", "int"]),
    ("model-case", setter("train", "model", "CNN"), ["train.model", "'CNN'"]),
    ("cnn-missing", deleter("train", "cnn"), ["train.cnn", "missing"]),
    ("cnn-not-mapping", setter("train", "cnn", [32, 64]), ["train.cnn", "expected a mapping"]),
    ("cnn-unknown-key", cnn_setter("filter", 32), ["train.cnn.filter", "unknown key"]),
    ("cnn-filters-empty", cnn_setter("filters", []), ["train.cnn.filters", "non-empty list"]),
    ("cnn-filters-zero", cnn_setter("filters", [32, 0]), ["train.cnn.filters[1]", "range"]),
    (
        "cnn-five-blocks",
        cnn_setter("filters", [8] * 5),
        ["train.cnn.filters", "5 blocks would pool the 28x28 image below one pixel; at most 4"],
    ),
    ("cnn-kernel-even-big", cnn_setter("kernel_size", 9), ["train.cnn.kernel_size", "<= 7"]),
    ("cnn-dropout-one", cnn_setter("dropout", 1.0), ["train.cnn.dropout", "<= 0.9"]),
    ("cnn-bn-int", cnn_setter("batch_norm", 1), ["train.cnn.batch_norm", "true or false"]),
    ("cnn-bn-text", cnn_setter("batch_norm", "yes"), ["train.cnn.batch_norm", "'yes'"]),
    # the CNN recipe's switches
    ("flip-text", setter("train", "flip", "yes"), ["train.flip", "true or false"]),
    ("tta-int", setter("train", "test_time_flip", 1), ["train.test_time_flip", "true or false"]),
    ("smoothing-big", setter("train", "label_smoothing", 0.6), ["train.label_smoothing", "<= 0.5"]),
    ("smoothing-neg", setter("train", "label_smoothing", -0.1), ["train.label_smoothing", ">= 0"]),
    ("warmup-float", setter("train", "warmup_epochs", 1.5), ["train.warmup_epochs", "integer"]),
    ("warmup-missing", deleter("train", "warmup_epochs"), ["train.warmup_epochs", "missing"]),
    (
        "warmup-whole-run",
        setter("train", "warmup_epochs", 10),
        ["train.warmup_epochs", "10 leaves no epoch", "train.epochs: 10"],
    ),
    # An integer too big for a float: a ParamsError, not an OverflowError traceback.
    ("lr-huge-int", setter("train", "learning_rate", 10**400), ["train.learning_rate"]),
]


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [pytest.param(mutate, fragments, id=name) for name, mutate, fragments in BAD_MUTATIONS],
)
def test_bad_mutation_is_rejected_naming_the_key(mutate, fragments):
    raw = real_raw()
    mutate(raw)
    assert_rejected(yaml.safe_dump(raw), *fragments)


def test_real_params_load_to_the_tutorial_values():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.train.model == "dense"
    assert params.train.epochs == 10
    assert params.train.batch_size == 32
    assert params.train.hidden_units == 128
    assert params.train.learning_rate == 0.001
    assert isinstance(params.train.learning_rate, float)
    # The CNN recipe's switches are all off: the tutorial trains and ships as it did.
    assert (params.train.lr_schedule, params.train.warmup_epochs) == ("constant", 0)
    assert (params.train.flip, params.train.test_time_flip) == (False, False)
    assert params.train.label_smoothing == 0.0
    assert params.predict.samples == (0, 1, 2, 3, 4, 12)
    assert isinstance(params.prepare.mirrors, tuple)
    assert len(params.prepare.mirrors) == 2
    # ints are accepted where floats are expected, and come back as floats
    assert params.prepare.download_timeout_s == 60.0
    assert isinstance(params.prepare.download_timeout_s, float)


def test_round_trip_through_safe_dump_loads_the_same():
    assert parse_params(yaml.safe_dump(real_raw())) == parse_params(REAL_TEXT)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("train", "epochs"), 3, id="train.epochs"),
        pytest.param(("predict", "samples"), (1,), id="predict.samples"),
        pytest.param(("train",), None, id="train"),
    ],
)
def test_params_are_frozen(path, value):
    params = parse_params(REAL_TEXT)
    target = params
    for name in path[:-1]:
        target = getattr(target, name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(target, path[-1], value)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param("train: [epochs: 10\n", ["params.yaml", "invalid YAML"], id="invalid-yaml"),
        pytest.param(
            "a: 1\n\tb: 2\n", ["params.yaml: a tab character at line 2, column 1"], id="tab-indent"
        ),
        pytest.param("", ["params.yaml", "expected a mapping"], id="empty-file"),
        pytest.param("# only a comment\n", ["params.yaml", "expected a mapping"], id="comments"),
        pytest.param("- 1\n- 2\n", ["params.yaml", "expected a mapping", "list"], id="top-list"),
        pytest.param("42\n", ["params.yaml", "expected a mapping"], id="top-scalar"),
    ],
)
def test_unusable_text_is_rejected(text, fragments):
    assert_rejected(text, *fragments)


def test_invalid_yaml_names_the_line():
    text = REAL_TEXT.replace("  epochs: 10", "  epochs: [10", 1)
    error = assert_rejected(text, "invalid YAML", "line")
    assert error.__cause__ is None


def test_load_params_missing_file(tmp_path):
    missing = tmp_path / "nope" / "params.yaml"
    with pytest.raises(ParamsError) as info:
        load_params(missing)
    message = str(info.value)
    assert str(missing) in message
    assert "cannot read" in message
    assert "\n" not in message


def test_load_params_directory_instead_of_file(tmp_path):
    with pytest.raises(ParamsError, match="cannot read"):
        load_params(tmp_path)


def test_load_params_not_utf8(tmp_path):
    """A binary params.yaml is a ParamsError, not a UnicodeDecodeError traceback."""
    path = tmp_path / "params.yaml"
    path.write_bytes(b"train:\n  epochs: \xff\xfe\n")
    with pytest.raises(ParamsError, match=r"params\.yaml"):
        load_params(path)


def test_load_params_reads_a_valid_file(tmp_path):
    path = tmp_path / "params.yaml"
    raw = real_raw()
    raw["train"]["epochs"] = 2
    path.write_text(yaml.safe_dump(raw))
    assert load_params(path).train.epochs == 2


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (REAL_TEXT.replace("  epochs: 10\n", "  epochs: 10\n  epochs: 3\n"), ["epochs", "twice"]),
        (REAL_TEXT + "train:\n  epochs: 3\n", ["key train given twice", "line"]),
        (
            REAL_TEXT.replace("    kernel_size: 3\n", "    kernel_size: 3\n    kernel_size: 5\n"),
            ["kernel_size given twice"],
        ),
    ],
    ids=["same-section", "whole-section", "nested"],
)
def test_a_key_given_twice_is_rejected_naming_it_and_its_lines(text, fragments):
    error = assert_rejected(text, *fragments)
    first, second = (int(n) for n in str(error).rsplit("(lines ", 1)[1].rstrip(")").split(" and "))
    lines = text.splitlines()
    assert first < second and lines[first - 1].split(":")[0] == lines[second - 1].split(":")[0]


def billion_laughs(levels: int) -> str:
    """params.yaml with `levels` of aliases nine wide: 9**levels strings once expanded."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return REAL_TEXT + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (billion_laughs(9), REAL_TEXT.count("\n") + 2),
        (REAL_TEXT.replace("  seed: 42", "  seed: &s 42\n  epochs_copy: *s"), 14),
    ],
    ids=["billion-laughs", "one-alias"],
)
def test_an_alias_is_refused_at_its_line(text, line):
    """DVC's own parser expands aliases (9 levels: 8 GB); the loader refuses the first one."""
    error = assert_rejected(text, "params take no anchors or aliases")
    assert f"at line {line};" in str(error)


def make_cnn_settings() -> dict[str, str]:
    """The Makefile's `make cnn` overrides, as dvc exp run -S gets them."""
    text = (ROOT / "Makefile").read_text()
    block = text[text.index("CNN_SETTINGS :=") : text.index("\n\n", text.index("CNN_SETTINGS :="))]
    words = shlex.split(block.split(":=", 1)[1].replace("\\\n", " "))
    pairs = [word for word in words if word != "-S"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_make_cnn_settings_load_through_the_strict_loader():
    """`make cnn` is params only: every override names a real key and passes the loader."""
    settings = make_cnn_settings()
    assert settings["train.model"] == "cnn"
    raw = real_raw()
    for key, value in settings.items():
        section = raw
        *parents, name = key.split(".")
        for parent in parents:
            section = section[parent]
        assert name in section, f"make cnn sets {key}, which params.yaml does not have"
        section[name] = yaml.safe_load(value)
    train = parse_params(yaml.safe_dump(raw)).train
    assert train.model == "cnn" and train.flip and train.test_time_flip
