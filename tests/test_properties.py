"""Property tests: on any bytes or YAML, the parser and the loader give a result or our error."""

from __future__ import annotations

import dataclasses

import numpy as np
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fmnist.core.idx import IdxError, parse_idx
from fmnist.pipeline.params import ParamsError, parse_params

from .conftest import ROOT

REAL_PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def idx_like() -> st.SearchStrategy[bytes]:
    """Bytes that often start like IDX: zero magic, a known or unknown type, a few dimensions."""
    header = st.builds(
        lambda code, dims: (
            bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
        ),
        st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0xFF]),
        st.lists(st.integers(0, 6), max_size=4),
    )
    return st.one_of(
        st.binary(max_size=200), st.tuples(header, st.binary(max_size=300)).map(b"".join)
    )


@settings(max_examples=400, deadline=None)
@given(idx_like())
def test_parse_idx_returns_an_array_or_raises_idx_error(data):
    try:
        array = parse_idx(data, "fuzz")
    except IdxError as error:
        assert "\n" not in str(error) and str(error).startswith("fuzz: ")
        return
    assert isinstance(array, np.ndarray)
    assert 4 + 4 * array.ndim + array.nbytes == len(data)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=20,
)


def mutated_params() -> st.SearchStrategy[dict]:
    """The real params with one section or key replaced by anything."""

    def mutate(section, key, value):
        params = yaml.safe_load(yaml.safe_dump(REAL_PARAMS))
        if key is None:
            params[section] = value
        else:
            params[section][key] = value
        return params

    keys = [(s, None) for s in REAL_PARAMS] + [(s, k) for s in REAL_PARAMS for k in REAL_PARAMS[s]]
    return st.builds(lambda sk, value: mutate(sk[0], sk[1], value), st.sampled_from(keys), trees)


def check_loader(text: str) -> None:
    try:
        params = parse_params(text)
    except ParamsError as error:
        assert "\n" not in str(error)
        return
    # Accepted: the params hold exactly what the file says, nothing dropped, nothing invented.
    assert plain(dataclasses.asdict(params)) == yaml.safe_load(text)


def plain(value):
    """Dataclass fields as YAML data: tuples back to lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_loader_on_any_text(text):
    check_loader(text)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_loader_on_any_yaml_structure(tree):
    check_loader(yaml.safe_dump(tree))


@settings(max_examples=500, deadline=None)
@given(mutated_params())
def test_loader_on_real_params_with_one_part_replaced(params):
    check_loader(yaml.safe_dump(params))
