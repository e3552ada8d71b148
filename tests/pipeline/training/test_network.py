"""The networks: shape, parameter count, the memory they need, reproducible saving."""

import dataclasses
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from fmnist.pipeline.params import ParamsError, load_params
from fmnist.pipeline.training.backend import keras
from fmnist.pipeline.training.network import (
    TRAIN_BYTES_PER_FLOAT,
    activation_floats,
    build_model,
    check_memory,
    learning_rate,
    save_model,
)

from ...conftest import ROOT


@pytest.fixture(scope="module")
def model():
    return build_model(load_params(ROOT / "params.yaml").train)


def test_tutorial_architecture(model):
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    assert [layer.__class__.__name__ for layer in model.layers] == ["Flatten", "Dense", "Dense"]
    assert model.layers[1].units == 128 and model.layers[1].activation.__name__ == "relu"
    assert model.layers[2].activation.__name__ == "linear"  # logits
    assert model.count_params() == 101_770
    assert model.loss.get_config()["from_logits"] is True


def test_saved_model_is_byte_reproducible_and_loads(model, tmp_path):
    first, second = tmp_path / "a.keras", tmp_path / "b.keras"
    save_model(model, first)
    save_model(model, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert b"date_saved" not in archive.read("metadata.json")
    images = np.random.default_rng(1).random((4, 28, 28), dtype=np.float32)
    loaded = keras.saving.load_model(first, compile=False)
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(model(images)))


def test_cnn_architecture_follows_params():
    params = load_params(ROOT / "params.yaml").train
    cnn = dataclasses.replace(params.cnn, filters=(8, 16, 32), kernel_size=5, batch_norm=True)
    model = build_model(dataclasses.replace(params, model="cnn", cnn=cnn))
    kinds = [layer.__class__.__name__ for layer in model.layers]
    assert kinds[0] == "Reshape" and kinds.count("Conv2D") == 3
    assert kinds.count("BatchNormalization") == 3 and kinds.count("MaxPooling2D") == 3
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [8, 16, 32] and convs[0].kernel_size == (5, 5)
    assert not convs[0].use_bias  # batch norm makes the conv's bias redundant
    assert model.input_shape == (None, 28, 28) and model.output_shape == (None, 10)
    assert model.layers[-1].activation.__name__ == "linear"


def test_tuned_cnn_parameter_count():
    params = load_params(ROOT / "params.yaml").train
    model = build_model(dataclasses.replace(params, model="cnn"))
    # conv 3x3x1x32+32, conv 3x3x32x64+64, dense 3136x128+128, dense 128x10+10
    assert model.count_params() == 320 + 18_496 + 401_536 + 1_290


def test_the_deepest_cnn_the_loader_allows_builds():
    params = load_params(ROOT / "params.yaml").train
    cnn = dataclasses.replace(params.cnn, filters=(4, 4, 4, 4), dense_units=8)
    model = build_model(dataclasses.replace(params, model="cnn", cnn=cnn))
    assert model.output_shape == (None, 10)  # four blocks pool 28 down to 1, not 0


GIB = 2**30


def train_params(**changes) -> object:
    params = load_params(ROOT / "params.yaml").train
    cnn = {k: changes.pop(k) for k in list(changes) if k in ("filters", "batch_norm")}
    return dataclasses.replace(params, cnn=dataclasses.replace(params.cnn, **cnn), **changes)


def test_activation_floats_count_every_layer_output():
    # dense: 784 inputs, Dense(128) before and after relu, 10 logits.
    assert activation_floats(train_params()) == 784 + 2 * 128 + 10
    # CNN 32/64: per block conv + relu at full side, pooling + dropout at half; dense 128 with
    # dropout (3 x 128), 10 logits.
    blocks = 2 * 28 * 28 * 32 + 2 * 14 * 14 * 32 + 2 * 14 * 14 * 64 + 2 * 7 * 7 * 64
    assert activation_floats(train_params(model="cnn")) == 784 + blocks + 3 * 128 + 10


def test_the_committed_and_tuned_runs_fit_and_oversized_ones_are_refused():
    for params in (train_params(), train_params(model="cnn", batch_size=128)):
        check_memory(params, 421_642, 10_000, 8 * GIB)
    huge = train_params(model="cnn", batch_size=60_000)
    with pytest.raises(ParamsError) as refused:
        check_memory(huge, 421_642, 10_000, 8 * GIB)
    message = str(refused.value)
    assert message.startswith("train.batch_size: 60000 would need about ") and "\n" not in message
    fits = int(message.rsplit("at most ", 1)[1].split()[0].replace(",", ""))
    check_memory(dataclasses.replace(huge, batch_size=fits), 421_642, 10_000, 8 * GIB)
    with pytest.raises(ParamsError):
        check_memory(dataclasses.replace(huge, batch_size=fits + 1), 421_642, 10_000, 8 * GIB)


def test_an_architecture_too_wide_to_score_the_test_set_is_refused_naming_it():
    wide = train_params(model="cnn", batch_size=32, filters=(1024, 1024))
    with pytest.raises(ParamsError, match=r"^train\.cnn\.filters: scoring 10,000 test images"):
        check_memory(wide, 10_000_000, 10_000, GIB // 4)
    with pytest.raises(ParamsError, match=r"^train\.hidden_units: scoring"):
        check_memory(train_params(hidden_units=65_536), 52_000_000, 10_000, GIB // 4)


PEAK_PROBE = """
import dataclasses, sys
from pathlib import Path
import numpy as np
from fmnist.core.dataset import Split
from fmnist.pipeline.training.fit import fit, make_deterministic
from fmnist.pipeline.training.network import build_model
from fmnist.pipeline.params import load_params


def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024


params = load_params(Path(sys.argv[1])).train
params = dataclasses.replace(params, model="cnn", batch_size=2048)
rng = np.random.default_rng(0)
split = Split(rng.random((2048, 28, 28), dtype=np.float32), rng.integers(0, 10, 2048))
held = Split(split.images[:1000], split.labels[:1000])
make_deterministic(0)
model = build_model(params, 2048)
Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from here
before = status("VmRSS")
fit(model, split, 1, 2048, 0, held_out=held, jit_compile=False)
print(status("VmHWM") - before)
"""


@pytest.mark.slow
def test_the_estimate_bounds_a_real_training_step():
    """One real CNN step of batch 2048: the memory it added stays under the estimate."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(ROOT / "params.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    measured = int(result.stdout.split()[-1])
    params = train_params(model="cnn", batch_size=2048)
    estimate = TRAIN_BYTES_PER_FLOAT * activation_floats(params) * 2048
    assert 0.3 * estimate < measured < estimate, (measured, estimate)


@pytest.mark.parametrize("warmup_epochs", [0, 2])
def test_cosine_schedule_warms_up_then_decays_to_zero(warmup_epochs):
    params = dataclasses.replace(
        load_params(ROOT / "params.yaml").train,
        model="cnn",
        epochs=5,
        batch_size=100,
        learning_rate=0.002,
        lr_schedule="cosine",
        warmup_epochs=warmup_epochs,
    )
    schedule = learning_rate(params, train_size=1000)  # 10 steps an epoch
    rate = {step: float(schedule(step)) for step in (0, 10, 20, 35, 50)}
    if warmup_epochs:
        assert rate[0] == 0.0 and rate[10] == pytest.approx(0.001)  # halfway up the warm-up
        assert rate[20] == pytest.approx(0.002)  # the peak, where the cosine starts
        assert rate[35] == pytest.approx(0.001)  # halfway down the 30 steps that follow
    else:
        assert rate[0] == pytest.approx(0.002) and rate[10] < 0.002
    assert rate[50] == pytest.approx(0.0, abs=1e-9)


def test_constant_rate_after_a_warm_up():
    params = dataclasses.replace(
        load_params(ROOT / "params.yaml").train, epochs=5, batch_size=100, warmup_epochs=1
    )
    schedule = learning_rate(params, train_size=1000)
    assert [float(schedule(step)) for step in (0, 5)] == [0.0, pytest.approx(0.0005)]
    assert {round(float(schedule(step)), 9) for step in (10, 30, 50)} == {0.001}
