"""Turning a user's image into Fashion-MNIST's form, function by function, on crafted pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fmnist.decoding import (
    InputError,
    decode,
    expand,
    fit_to_frame,
    light_on_dark,
    normalise,
    to_unit_gray,
)


def test_16_bit_gray_is_scaled_by_its_full_range():
    image = Image.fromarray(np.array([[0, 32768, 65535]], np.uint16))
    np.testing.assert_allclose(to_unit_gray(image), [[0.0, 32768 / 65535, 1.0]], rtol=1e-6)


def test_transparency_is_composited_onto_white():
    image = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    image.putpixel((1, 0), (0, 0, 0, 255))
    np.testing.assert_array_equal(to_unit_gray(image), [[1.0, 0.0]])  # clear -> white, black stays


def test_a_light_background_is_inverted_and_a_dark_one_kept():
    dark = np.zeros((10, 10), np.float32)
    dark[4:6, 4:6] = 0.8
    np.testing.assert_array_equal(light_on_dark(dark), dark)
    np.testing.assert_allclose(light_on_dark(1.0 - dark), dark, atol=1e-6)


def test_the_object_is_trimmed_fitted_into_28_pixels_and_centred():
    gray = np.zeros((200, 300), np.float32)
    gray[50:90, 100:180] = 1.0  # an 80 x 40 object, off centre
    frame = fit_to_frame(gray)
    rows = np.flatnonzero((frame > 0.5).any(axis=1))
    columns = np.flatnonzero((frame > 0.5).any(axis=0))
    assert frame.shape == (28, 28) and frame.dtype == np.float32
    assert columns[0] == 0 and columns[-1] == 27  # the longest side fills the frame
    assert abs(len(rows) - 14) <= 1  # aspect 2:1 kept
    assert abs((rows[0] + rows[-1]) / 2 - 13.5) <= 1  # centred vertically


def test_a_28x28_image_keeps_its_geometry():
    gray = np.zeros((28, 28), np.float32)
    gray[0, 0] = 0.7  # an object in the corner stays in the corner
    np.testing.assert_array_equal(normalise(gray), gray)


def png_bytes(image: Image.Image) -> io.BytesIO:
    stream = io.BytesIO()
    image.save(stream, format="PNG")
    stream.seek(0)
    return stream


def test_decode_reads_an_image_and_an_array_from_bytes():
    array = np.zeros((3, 28, 28), np.uint8)
    array[1] = 255
    stream = io.BytesIO()
    np.save(stream, array)
    stream.seek(0)
    decoded, kind = decode(stream, "batch")
    assert decoded.shape == (3, 28, 28) and decoded[1].min() == 1.0 and decoded[0].max() == 0.0
    assert kind == "tensor"
    image, kind = decode(png_bytes(Image.new("L", (28, 28), 0)), "black")
    assert image.shape == (1, 28, 28) and image.max() == 0.0 and kind == "file"


def test_decode_names_the_input_in_its_refusal():
    with pytest.raises(InputError, match=r"^photo: its content is TIFF; fmnist reads PNG"):
        stream = io.BytesIO()
        Image.new("L", (5, 5)).save(stream, format="TIFF")
        stream.seek(0)
        decode(stream, "photo")


def test_a_folder_expands_to_its_images_and_arrays_sorted(tmp_path):
    for name in ("b.PNG", "a.npy", "c.jpeg", "notes.txt", "d.tiff"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    given = tmp_path / "given.txt"
    assert [p.name for p in expand([tmp_path])] == ["a.npy", "b.PNG", "c.jpeg"]
    assert expand([given]) == [given]  # a file given by name is taken whatever its suffix
