"""`fmnist predict` on real images written from the test set, and on every bad input we know."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmnist import cli
from fmnist.core.errors import RESTORE_HINT
from fmnist.inference.classifier import load_classifier
from fmnist.pipeline.params import load_params
from fmnist.pipeline.stages.predict import predict_samples

from .conftest import ROOT
from .interrupts import run_interrupted

INDICES = [0, 1, 2, 3, 4, 12, 25, 100]


def as_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(image * 255).astype(np.uint8)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["predict", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_agrees_with_the_predict_stage_on_saved_images(trained, real_test, tmp_path, capsys):
    model_path = trained[1]
    params = dataclasses.replace(load_params(ROOT / "params.yaml").predict, samples=tuple(INDICES))
    records = predict_samples(load_classifier(model_path), real_test, params)
    expected = {r["index"]: r["predicted_name"] for r in records}
    confident = [r["index"] for r in records if r["confidence"] >= 0.9]
    assert len(confident) >= len(INDICES) // 2
    for index in INDICES:
        pixels = as_uint8(real_test.images[index])
        Image.fromarray(pixels).save(tmp_path / f"light-on-black-{index}.png")
        Image.fromarray(255 - pixels).save(tmp_path / f"dark-on-white-{index}.png")
        # As a user might photograph it: dark on white, ten times larger, lossy JPEG.
        big = Image.fromarray(255 - pixels).resize((280, 280), Image.Resampling.LANCZOS)
        big.save(tmp_path / f"photo-{index}.jpg", quality=95)
    code, out, err = run_cli(capsys, str(tmp_path), "--model", str(model_path), "--json")
    assert code == 0, err
    predictions = json.loads(out)["predictions"]
    assert len(predictions) == 3 * len(INDICES)
    by_file = {Path(p["input"]).name: p["top"][0]["class"] for p in predictions}
    for index in INDICES:  # lossless copies: exactly the stage's answer
        assert by_file[f"light-on-black-{index}.png"] == expected[index], index
        assert by_file[f"dark-on-white-{index}.png"] == expected[index], index
    # Rescaled and JPEG-compressed: the same answer wherever the stage was confident.
    for index in confident:
        assert by_file[f"photo-{index}.jpg"] == expected[index], index


def test_text_output_lists_top_three(trained, real_test, tmp_path, capsys):
    np.save(tmp_path / "batch.npy", real_test.images[:2])
    code, out, _ = run_cli(capsys, str(tmp_path / "batch.npy"), "--model", str(trained[1]))
    assert code == 0
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"{tmp_path / 'batch.npy'}[0]",
        f"{tmp_path / 'batch.npy'}[1]",
    ]
    assert lines[0].split(": ")[1].startswith("Ankle boot ")
    assert lines[0].count(",") == 2


def write_file(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def write_npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def save_as(path: Path, image: Image.Image, format: str) -> Path:
    image.save(path, format=format)
    return path


def write_png(path: Path, image: Image.Image) -> Path:
    image.save(path)
    return path


def gray(size: tuple[int, int], value: int) -> Image.Image:
    return Image.new("L", size, value)


def composited(rgba: tuple[int, int, int, int], size: tuple[int, int]) -> Image.Image:
    """An RGBA colour over white, as a plain RGB image."""
    white = Image.new("RGBA", size, (255, 255, 255, 255))
    return Image.alpha_composite(white, Image.new("RGBA", size, rgba)).convert("RGB")


# kind -> (the odd file, a plain file with the same picture, how far apart the probabilities
# may be): each odd input must be classified as its plain twin is.
RAMP = np.arange(900).reshape(30, 30) * 70
ODD_BUT_VALID = {
    "one-pixel": (
        lambda p: write_png(p / "a.png", gray((1, 1), 200)),
        lambda p: save_as(p / "a.bmp", gray((1, 1), 200), "BMP"),
        0.0,
    ),
    "16-bit": (
        lambda p: write_png(p / "b.png", Image.fromarray(RAMP.astype(np.uint16))),
        lambda p: write_png(
            p / "b8.png", Image.fromarray((RAMP / 65535 * 255).round().astype(np.uint8))
        ),
        0.01,
    ),
    "rgba": (
        lambda p: write_png(p / "c.png", Image.new("RGBA", (40, 20), (10, 200, 30, 128))),
        lambda p: write_png(p / "c-rgb.png", composited((10, 200, 30, 128), (40, 20))),
        0.0,
    ),
    "palette": (
        lambda p: write_png(p / "d.png", Image.new("RGB", (33, 17), "red").convert("P")),
        lambda p: write_png(p / "d-rgb.png", Image.new("RGB", (33, 17), "red")),
        0.0,
    ),
    "gif": (
        lambda p: write_png(p / "e.gif", gray((28, 28), 0)),
        lambda p: write_png(p / "e.png", gray((28, 28), 0)),
        0.0,
    ),
    "bmp": (
        lambda p: write_png(p / "f.bmp", Image.new("RGB", (50, 90), (255, 255, 255))),
        lambda p: write_png(p / "f.png", gray((50, 90), 255)),
        0.0,
    ),
    "float-npy": (
        lambda p: write_npy(p / "g.npy", np.zeros((28, 28), np.float64)),
        lambda p: write_npy(p / "g8.npy", np.zeros((28, 28), np.uint8)),
        0.0,
    ),
    # Decided by content, whatever the name says.
    "jpeg-named-png": (
        lambda p: save_as(p / "h.png", gray((30, 30), 40), "JPEG"),
        lambda p: save_as(p / "h.jpg", gray((30, 30), 40), "JPEG"),
        0.0,
    ),
    "png-without-suffix": (
        lambda p: save_as(p / "photo", gray((30, 30), 40), "PNG"),
        lambda p: save_as(p / "photo.png", gray((30, 30), 40), "PNG"),
        0.0,
    ),
    "cmyk-jpeg": (
        lambda p: save_as(p / "i.jpg", Image.new("CMYK", (30, 30), (0, 0, 0, 50)), "JPEG"),
        lambda p: write_png(p / "i.png", Image.new("CMYK", (30, 30), (0, 0, 0, 50)).convert("L")),
        0.02,
    ),
    "one-bit-png": (
        lambda p: save_as(p / "j.png", Image.new("1", (30, 30), 1), "PNG"),
        lambda p: write_png(p / "j8.png", gray((30, 30), 255)),
        0.0,
    ),
    "multi-picture-jpeg": (
        lambda p: save_as(p / "k.jpg", Image.new("RGB", (30, 30), "blue"), "MPO"),
        lambda p: save_as(p / "k-plain.jpg", Image.new("RGB", (30, 30), "blue"), "JPEG"),
        0.0,
    ),
}


@pytest.mark.parametrize("kind", list(ODD_BUT_VALID))
def test_odd_but_valid_inputs_are_classified_as_their_plain_twins(trained, tmp_path, capsys, kind):
    make_odd, make_plain, tolerance = ODD_BUT_VALID[kind]
    (tmp_path / "odd").mkdir()
    (tmp_path / "plain").mkdir()
    odd, plain = make_odd(tmp_path / "odd"), make_plain(tmp_path / "plain")
    code, out, err = run_cli(capsys, str(odd), str(plain), "--model", str(trained[1]), "--json")
    assert code == 0, err
    first, second = (p["top"] for p in json.loads(out)["predictions"])
    probabilities = [t["probability"] for t in first]
    assert probabilities == sorted(probabilities, reverse=True)
    assert [t["class"] for t in first] == [t["class"] for t in second]
    assert probabilities == pytest.approx([t["probability"] for t in second], abs=tolerance)


def pickled_npy(path: Path) -> Path:
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return path


def truncated_png(path: Path) -> Path:
    buffer = path.with_suffix(".full.png")
    Image.new("L", (64, 64), 128).save(buffer)
    path.write_bytes(buffer.read_bytes()[:60])
    buffer.unlink()
    return path


def zero_size_png(path: Path) -> Path:
    # A PNG signature and an IHDR chunk declaring 0 x 0 pixels.
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 0, 0, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    return path


BAD_INPUTS = {
    "missing-file": (lambda p: p / "nope.png", "no such file"),
    "empty-file": (lambda p: write_file(p / "e.png", b""), "empty file"),
    "text-named-png": (
        lambda p: write_file(p / "t.png", "hello"),
        "not a PNG, JPEG, BMP, GIF or .npy file",
    ),
    "truncated-png": (lambda p: truncated_png(p / "cut.png"), "corrupt or truncated"),
    "zero-size-png": (lambda p: zero_size_png(p / "zero.png"), "corrupt or truncated image"),
    "text-named-txt": (
        lambda p: write_file(p / "x.txt", "x"),
        "not a PNG, JPEG, BMP, GIF or .npy file",
    ),
    "text-without-suffix": (
        lambda p: write_file(p / "x", "x"),
        "not a PNG, JPEG, BMP, GIF or .npy file",
    ),
    # The files are decided by content: a device and an unreadable "regular" file.
    "device": (lambda p: Path("/dev/zero"), "/dev/zero: not a file"),
    "unreadable": (lambda p: Path("/proc/self/mem"), "cannot read (Input/output error)"),
    "empty-folder": (lambda p: (p / "empty").mkdir() or p / "empty", "no images found"),
    "npy-wrong-shape": (
        lambda p: write_npy(p / "s.npy", np.zeros((3, 28))),
        "shape (3, 28)",
    ),
    "npy-3d-wrong-size": (
        lambda p: write_npy(p / "s.npy", np.zeros((2, 27, 28))),
        "expected (28, 28) or (N, 28, 28)",
    ),
    "npy-no-images": (
        lambda p: write_npy(p / "s.npy", np.zeros((0, 28, 28))),
        "shape (0, 28, 28)",
    ),
    "npy-int64": (
        lambda p: write_npy(p / "s.npy", np.zeros((28, 28), np.int64)),
        "dtype int64",
    ),
    "npy-bool": (
        lambda p: write_npy(p / "s.npy", np.zeros((28, 28), bool)),
        "dtype bool",
    ),
    "npy-complex": (
        lambda p: write_npy(p / "s.npy", np.zeros((28, 28), complex)),
        "dtype complex128",
    ),
    "npy-nan": (
        lambda p: write_npy(p / "s.npy", np.full((28, 28), np.nan)),
        "NaN or infinity",
    ),
    "npy-inf": (
        lambda p: write_npy(p / "s.npy", np.full((28, 28), np.inf)),
        "NaN or infinity",
    ),
    "npy-out-of-range": (
        lambda p: write_npy(p / "s.npy", np.full((28, 28), 255.0)),
        "outside [0, 1]",
    ),
    "npy-pickled-objects": (lambda p: pickled_npy(p / "o.npy"), "not a plain numeric .npy"),
    "npy-truncated": (
        lambda p: write_file(p / "c.npy", b"\x93NUMPY\x01\x00v\x00{'descr'"),
        "not a plain numeric .npy (EOF: reading array header",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_gets_one_line_naming_it(trained, tmp_path, capsys, kind):
    make, message = BAD_INPUTS[kind]
    path = make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(capsys, str(path), "--model", str(trained[1]))
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("fmnist predict: error: ")
    assert message in err and path.name in err, err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_good_inputs_are_still_predicted_beside_bad_ones(trained, real_test, tmp_path, capsys):
    Image.fromarray(as_uint8(real_test.images[0])).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_text("not a png")
    code, out, err = run_cli(capsys, str(tmp_path), "--model", str(trained[1]))
    assert code == 1
    assert out.startswith(f"{tmp_path / 'good.png'}: ")
    assert "bad.png: not a PNG, JPEG, BMP, GIF or .npy file" in err


# Every damaged or foreign model file is in test_inference.py; these check the CLI's wording.
BAD_MODELS = {
    "missing": (
        lambda p, good: p / "absent.tflite",
        "missing; `make repro` builds it, or `make pull`",
    ),
    "garbage": (lambda p, good: write_file(p / "g.tflite", b"\x00" * 100), "not a .tflite"),
    "truncated": (
        lambda p, good: write_file(p / "t.tflite", good.read_bytes()[:2000]),
        "damaged (its checksum does not match)",
    ),
    "keras-archive": (
        lambda p, good: good.with_suffix(".keras"),
        "pass {good}",
    ),
    "device": (lambda p, good: Path("/dev/zero"), "not a regular file"),  # endless otherwise
}


@pytest.mark.parametrize("kind", list(BAD_MODELS))
def test_bad_model_file_gets_one_line_naming_it(trained, real_test, tmp_path, capsys, kind):
    make, message = BAD_MODELS[kind]
    model_path = make(tmp_path, trained[1])
    message = message.format(good=trained[1])
    Image.fromarray(as_uint8(real_test.images[0])).save(tmp_path / "shoe.png")
    code, out, err = run_cli(capsys, str(tmp_path / "shoe.png"), "--model", str(model_path))
    assert code == 1 and out == ""
    assert err.startswith(f"fmnist predict: error: {model_path}: ")
    assert err.count("\n") == 1 and message in err, err


def test_console_script_exit_codes(trained, real_test, tmp_path):
    Image.fromarray(as_uint8(real_test.images[0])).save(tmp_path / "shoe.png")
    script = Path(sys.executable).parent / "fmnist"
    good = subprocess.run(
        [script, "predict", tmp_path / "shoe.png", "--model", trained[1]],
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0 and good.stdout.startswith(f"{tmp_path / 'shoe.png'}: ")
    bad = subprocess.run([script, "predict", tmp_path / "none.png"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip().endswith("none.png: no such file")
    assert "Traceback" not in bad.stderr


def test_top_classes_orders_by_probability_then_label():
    probabilities = np.array([0.1, 0.3, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3])
    assert [t["class"] for t in cli.top_classes(probabilities)] == [
        "Trouser",
        "Pullover",
        "Ankle boot",
    ]


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation(
    trained, real_test, tmp_path, capsys
):
    upright = Image.fromarray(255 - as_uint8(real_test.images[0])).resize((280, 280))
    upright.save(tmp_path / "upright.jpg", quality=95)
    # Stored sideways, as a phone stores it, with orientation 6: "rotate 90 degrees clockwise".
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.rotate(90, expand=True).save(tmp_path / "sideways.jpg", quality=95, exif=exif)
    code, out, err = run_cli(capsys, str(tmp_path), "--model", str(trained[1]), "--json")
    assert code == 0, err
    by_file = {Path(p["input"]).name: p["top"][0] for p in json.loads(out)["predictions"]}
    assert by_file["upright.jpg"]["class"] == "Ankle boot"
    assert by_file["sideways.jpg"]["class"] == "Ankle boot"
    assert (
        abs(by_file["sideways.jpg"]["probability"] - by_file["upright.jpg"]["probability"]) < 0.05
    )


# Pillow decodes these, and would have for any suffix; fmnist decodes only PNG, JPEG, BMP and
# GIF, chosen by content. (EPS would run Ghostscript, see the test below.)
FOREIGN = {
    "TIFF": {},
    "WEBP": {},
    "EPS": {},
    "ICO": {},
    "PPM": {},
    "PCX": {},
    "SGI": {},
    "JPEG2000": {},
    "DDS": {"mode": "RGB"},
    "XBM": {"mode": "1"},
}


@pytest.mark.parametrize("name", list(FOREIGN))
def test_an_image_of_another_format_named_png_is_refused_by_its_content(tmp_path, capsys, name):
    image = Image.new(FOREIGN[name].get("mode", "L"), (40, 40), 255)
    path = tmp_path / "photo.png"
    image.save(path, format=name)
    code, out, err = run_cli(capsys, str(path), "--model", str(tmp_path / "unused.tflite"))
    assert code == 1 and out == ""
    readable = "fmnist reads PNG, JPEG, BMP, GIF or .npy"
    assert err == f"fmnist predict: error: {path}: its content is {name}; {readable}\n"


def test_eps_content_never_reaches_ghostscript(tmp_path):
    """A `gs` first on PATH that leaves a mark: Pillow's EPS plugin would run it to decode."""
    fake = tmp_path / "bin"
    fake.mkdir()
    mark = tmp_path / "ghostscript-ran"
    (fake / "gs").write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    (fake / "gs").chmod(0o755)
    path = tmp_path / "drawing.png"
    Image.new("L", (40, 40), 0).save(path, format="EPS")
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    script = Path(sys.executable).parent / "fmnist"
    result = subprocess.run(
        [script, "predict", path, "--model", tmp_path / "unused.tflite"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1 and not mark.exists()
    assert result.stderr.endswith(
        f"{path}: its content is EPS; fmnist reads PNG, JPEG, BMP, GIF or .npy\n"
    )
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_float_image_holding_nan_or_infinity_is_refused(trained, tmp_path, capsys, value):
    pixels = np.full((28, 28), 0.5, np.float32)
    pixels[3, 4] = value
    path = tmp_path / "float.png"  # a float TIFF under a PNG name: refused before decoding
    Image.fromarray(pixels, mode="F").save(path, format="TIFF")
    code, out, err = run_cli(capsys, str(path), "--model", str(trained[1]), "--json")
    assert code == 1 and "NaN" not in out
    message = f"{path}: its content is TIFF; fmnist reads PNG, JPEG, BMP, GIF or .npy"
    assert json.loads(out) == {
        "predictions": [],
        "errors": [{"input": str(path), "error": message}],
    }
    assert err == f"fmnist predict: error: {message}\n"


def console(*args, stdin: bytes = b"") -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "fmnist"
    return subprocess.run([script, *map(str, args)], input=stdin, capture_output=True, timeout=60)


def test_dash_reads_an_image_or_an_array_from_standard_input(trained, real_test, tmp_path):
    Image.fromarray(as_uint8(real_test.images[0])).save(tmp_path / "shoe.png")
    png = console("predict", "-", "--model", trained[1], stdin=(tmp_path / "shoe.png").read_bytes())
    assert png.returncode == 0, png.stderr
    alone = console("predict", tmp_path / "shoe.png", "--model", trained[1])
    assert png.stdout.decode() == alone.stdout.decode().replace(
        str(tmp_path / "shoe.png"), "standard input"
    )
    np.save(tmp_path / "two.npy", real_test.images[:2])
    npy = console("predict", "-", "--model", trained[1], stdin=(tmp_path / "two.npy").read_bytes())
    assert npy.returncode == 0, npy.stderr
    lines = npy.stdout.decode().splitlines()
    assert [line.split(": ")[0] for line in lines] == ["standard input[0]", "standard input[1]"]
    assert lines[1].split(": ")[1].startswith("Pullover ")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "standard input: empty file"),
        (b"GIF89a-not-really", "standard input: corrupt or truncated image"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n", "standard input: its content is EPS"),
    ],
    ids=["empty", "truncated-gif", "eps"],
)
def test_bad_standard_input_is_one_line(tmp_path, data, message):
    result = console("predict", "-", "--model", tmp_path / "unused.tflite", stdin=data)
    assert result.returncode == 1 and result.stdout == b""
    err = result.stderr.decode()
    assert err.startswith(f"fmnist predict: error: {message}") and err.count("\n") == 1, err


def test_json_output_reports_a_model_that_fails_to_load(real_test, tmp_path, capsys):
    Image.fromarray(as_uint8(real_test.images[0])).save(tmp_path / "shoe.png")
    missing = tmp_path / "absent.tflite"
    code, out, err = run_cli(capsys, str(tmp_path / "shoe.png"), "--model", str(missing), "--json")
    assert code == 1
    message = f"{missing}: missing; {RESTORE_HINT}"
    assert json.loads(out) == {
        "predictions": [],
        "errors": [{"input": str(missing), "error": message}],
    }
    assert err == f"fmnist predict: error: {message}\n"


def test_a_newline_in_a_file_name_keeps_one_line_per_result(trained, real_test, tmp_path, capsys):
    path = tmp_path / "two\nlines.png"
    Image.fromarray(as_uint8(real_test.images[0])).save(path)
    (tmp_path / "bad\nname.png").write_text("not a png")
    code, out, err = run_cli(capsys, str(tmp_path), "--model", str(trained[1]))
    assert code == 1
    assert out.count("\n") == 1 and out.startswith(repr(str(path)) + ": Ankle boot ")
    assert err.count("\n") == 1 and "bad\\nname.png: not a PNG, JPEG" in err


def test_the_default_model_is_the_projects_wherever_it_runs(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(project / "src" / "deep")
    assert cli.default_model() == project / "models" / "model.tflite"
    monkeypatch.chdir(tmp_path)  # outside any project: the checkout this package runs from
    assert cli.default_model() == Path(cli.__file__).resolve().parents[2] / "models/model.tflite"


def npy_claiming(path: Path, shape: tuple[int, ...]) -> Path:
    """A .npy whose header claims `shape` of float32, followed by only 16 bytes of data."""
    with path.open("wb") as handle:
        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(b"\0" * 16)
    return path


def test_a_npy_header_claiming_terabytes_is_refused_before_any_allocation(tmp_path, capsys):
    path = npy_claiming(tmp_path / "huge.npy", (10**12 // 784, 28, 28))
    code, out, err = run_cli(capsys, str(path), "--model", str(tmp_path / "unused.tflite"))
    assert code == 1 and out == ""
    claim = "header claims 3.6 TiB of data, the file holds 16 bytes"
    assert err == f"fmnist predict: error: {path}: {claim}\n"


def test_an_array_larger_than_memory_can_spare_is_refused(tmp_path, capsys, monkeypatch):
    from fmnist import decoding

    path = tmp_path / "big.npy"
    np.save(path, np.zeros((1000, 28, 28), np.uint8))  # 3.0 MiB as float32
    monkeypatch.setattr(decoding, "memory_budget", lambda: 2**20)  # a machine with 1 MiB to spare
    code, out, err = run_cli(capsys, str(path), "--model", str(tmp_path / "unused.tflite"))
    assert code == 1 and out == ""
    assert "784,000 values need 3.0 MiB as float32, more than this machine can spare" in err


@pytest.mark.parametrize("pixels", [15_000, 30_000], ids=["pillow-warns", "pillow-refuses"])
def test_an_image_over_the_pixel_limit_is_refused_in_one_line(
    tmp_path, capsys, monkeypatch, pixels
):
    # The limit lowered to 10,000 pixels stands in for 50 MP: Pillow warns between 1x and 2x it.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    path = write_png(tmp_path / "big.png", Image.new("L", (pixels // 100, 100), 128))
    code, out, err = run_cli(capsys, str(path), "--model", str(tmp_path / "unused.tflite"))
    assert code == 1 and out == ""
    message = f"{path}: image too large to decode safely (over 10,000 pixels); shrink it first"
    assert err.startswith(f"fmnist predict: error: {message}") and err.count("\n") == 1


def test_ctrl_c_at_any_moment_is_one_line_and_never_a_traceback(trained, tmp_path, real_test):
    """From fmnist's first line (the guard) through NumPy's, Pillow's and LiteRT's imports, the
    decoding and the prediction, to the end: at 25 moments spread evenly over the run's Python
    events, counted rather than timed, so every run tests the same moments, loaded or not."""
    Image.fromarray(as_uint8(real_test.images[0])).save(tmp_path / "shoe.png")
    command = [Path(sys.executable).parent / "fmnist", "predict", tmp_path / "shoe.png"]
    command += ["--model", trained[1]]
    whole = run_interrupted(command, 0, tmp_path)
    assert (whole.returncode, whole.stderr) == (0, ""), whole.stderr
    assert whole.stdout.startswith(f"{tmp_path / 'shoe.png'}: ") and whole.stdout.count("\n") == 1
    assert whole.events > 500 and whole.done_at is not None  # imports and all
    for at in np.linspace(1, whole.done_at - 1, 24).round().astype(int):
        run = run_interrupted(command, int(at), tmp_path)
        assert (run.returncode, run.stdout) == (130, ""), (at, run.stderr)
        assert run.stderr in ("fmnist: interrupted\n", "fmnist predict: interrupted\n"), at
    # Once the work is done and printed, Ctrl-C changes nothing.
    late = run_interrupted(command, whole.done_at, tmp_path)
    assert (late.returncode, late.stdout, late.stderr) == (0, whole.stdout, "")
