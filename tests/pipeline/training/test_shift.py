"""Random shifts as a pure function: each image moves by its own whole pixels, black comes in."""

import numpy as np
import pytest

from fmnist.pipeline.training import fit


def shifted(images: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """fit.shifted, the graph's own, on arrays, its reach the largest move."""
    moves = np.stack([rows, columns], axis=1).astype(np.int32)
    reach = int(np.abs(moves).max())
    return fit.shifted(fit.tf.constant(images), fit.tf.constant(moves), reach).numpy()


@pytest.mark.parametrize(("row", "column"), [(0, 0), (2, 0), (0, -2), (-1, 1), (2, 2)])
def test_a_pixel_moves_by_its_images_shift(row, column):
    images = np.zeros((3, 28, 28), np.float32)
    images[:, 10, 20] = 1.0
    images[:, 27, 0] = 0.5  # at the edge: moved out, or along it
    rows = np.array([row, 0, -row])
    columns = np.array([column, 0, -column])
    out = shifted(images, rows, columns)
    assert out[0, 10 + row, 20 + column] == 1.0
    assert out[2, 10 - row, 20 - column] == 1.0
    np.testing.assert_array_equal(out[1], images[1])  # no shift: the same image
    expected_ones = 1
    assert (out[0] == 1.0).sum() == expected_ones
    inside = 0 <= 27 + row < 28 and 0 <= column < 28
    assert ((out[0] == 0.5).sum() == 1) == inside


def test_what_comes_in_is_black_and_nothing_else_changes():
    rng = np.random.default_rng(0)
    images = rng.random((50, 28, 28), dtype=np.float32) + 0.1  # nothing black
    rows, columns = rng.integers(-2, 3, (2, 50))
    out = shifted(images, rows, columns)
    for i in range(50):
        r, c = rows[i], columns[i]
        back = np.roll(out[i], (-r, -c), axis=(0, 1))
        kept = (slice(max(-r, 0), 28 - max(r, 0)), slice(max(-c, 0), 28 - max(c, 0)))
        np.testing.assert_array_equal(back[kept], images[i][kept])
        assert (out[i] == 0).sum() == 28 * 28 - (28 - abs(r)) * (28 - abs(c))
