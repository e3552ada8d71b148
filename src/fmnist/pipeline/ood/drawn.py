"""Non-clothing images drawn by code, seeded: noise, blank frames, shapes, strokes, ramps,
patterns and charts (Matplotlib). Each picture reaches the checks as `fmnist predict` would
decode it from a PNG file (`as_file`), arrays excepted."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter

from fmnist.decoding import load_image, normalise


def as_file(gray: np.ndarray) -> np.ndarray:
    """A uint8 gray picture saved as PNG and decoded as `fmnist predict FILE` decodes it (PNG is
    lossless: the fastest compression decodes to the same pixels)."""
    buffer = io.BytesIO()
    Image.fromarray(gray, mode="L").save(buffer, format="PNG", compress_level=1)
    return load_image(io.BytesIO(buffer.getvalue()), "set image")


def noise(rng) -> list[np.ndarray]:
    """1,000 uniform-noise arrays."""
    return [normalise(image) for image in rng.random((1000, 28, 28), dtype=np.float32)]


def constants(rng) -> list[np.ndarray]:
    """50 constant arrays from black to white."""
    return [np.full((28, 28), level, np.float32) for level in np.linspace(0, 1, 50)]


def constant_files(rng) -> list[np.ndarray]:
    """The same 50 levels as 64x64 pictures (a blank photo, a white page)."""
    levels = np.round(np.linspace(0, 255, 50)).astype(np.uint8)
    return [as_file(np.full((64, 64), level, np.uint8)) for level in levels]


def blobs(rng) -> list[np.ndarray]:
    """200 smooth random shapes (smoothed noise above a quantile): silhouettes of nothing."""
    out = []
    for _ in range(200):
        field = gaussian_filter(rng.standard_normal((96, 96)), sigma=float(rng.uniform(4, 12)))
        cut = np.quantile(field, float(rng.uniform(0.6, 0.9)))
        out.append(
            as_file(
                np.round(255 * np.clip((field - cut) / (field.max() - cut), 0, 1)).astype(np.uint8)
            )
        )
    return out


def patterns(rng) -> list[np.ndarray]:
    """100 checkerboards and stripes (period 6-30 px, random phase and angle)."""
    y, x = np.mgrid[0:84, 0:84].astype(np.float64)
    out = []
    for i in range(100):
        period, angle = float(rng.uniform(6, 30)), float(rng.uniform(0, np.pi))
        u = x * np.cos(angle) + y * np.sin(angle) + rng.uniform(0, period)
        if i < 50:
            v = -x * np.sin(angle) + y * np.cos(angle) + rng.uniform(0, period)
            image = (np.floor(u / period) + np.floor(v / period)) % 2
        else:
            image = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * u / period))
        out.append(as_file(np.round(255 * image).astype(np.uint8)))
    return out


def drawings(rng) -> list[np.ndarray]:
    """200 line drawings: 1-4 lines, ellipses, rectangles, polygons or arcs, 2-8 px strokes."""
    out = []
    for _ in range(200):
        canvas = Image.new("L", (128, 128), 255)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(1, 5))):
            kind, width = int(rng.integers(0, 5)), int(rng.integers(2, 9))
            points = [
                tuple(int(v) for v in rng.integers(8, 120, 2))
                for _ in range(int(rng.integers(3, 7)))
            ]
            (x0, y0), (x1, y1) = points[0], points[1]
            box = [min(x0, x1), min(y0, y1), max(x0, x1) + 10, max(y0, y1) + 10]
            if kind == 0:
                draw.line(points[:2], fill=0, width=width)
            elif kind == 1:
                draw.ellipse(box, outline=0, width=width)
            elif kind == 2:
                draw.rectangle(box, outline=0, width=width)
            elif kind == 3:
                draw.polygon(points, outline=0, width=width)
            else:
                start, end = int(rng.integers(0, 360)), int(rng.integers(0, 360))
                draw.arc(box, start, end, fill=0, width=width)
        out.append(as_file(np.asarray(canvas)))
    return out


def gradients(rng) -> list[np.ndarray]:
    """50 linear and radial ramps between two random gray levels."""
    y, x = np.mgrid[0:64, 0:64] / 63.0
    out = []
    for i in range(50):
        if i < 25:
            angle = rng.uniform(0, 2 * np.pi)
            ramp = x * np.cos(angle) + y * np.sin(angle)
        else:
            centre_y, centre_x = rng.uniform(0, 1, 2)
            ramp = np.hypot(x - centre_x, y - centre_y)
        ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
        low, high = rng.uniform(0, 1, 2)
        out.append(as_file(np.round(255 * (low + (high - low) * ramp)).astype(np.uint8)))
    return out


def scribbles(rng) -> list[np.ndarray]:
    """100 pen scribbles: a smooth random walk of 20-80 steps, 3-10 px wide."""
    out = []
    for _ in range(100):
        canvas = Image.new("L", (160, 160), 255)
        heading, turn = float(rng.uniform(0, 2 * np.pi)), 0.0
        point = rng.uniform(50, 110, 2)
        trail = [tuple(point)]
        for _ in range(int(rng.integers(20, 81))):
            turn = 0.8 * turn + float(rng.normal(0, 0.35))
            heading += turn
            point = np.clip(point + 5 * np.array([np.cos(heading), np.sin(heading)]), 5, 155)
            trail.append(tuple(point))
        ImageDraw.Draw(canvas).line(trail, fill=0, width=int(rng.integers(3, 11)), joint="curve")
        out.append(as_file(np.asarray(canvas)))
    return out


def charts(rng) -> list[np.ndarray]:
    """500 charts drawn by Matplotlib (lines, bars, scatter, pie), as screenshots."""
    from matplotlib.figure import Figure

    out = []
    for index in range(500):
        figure = Figure(
            figsize=(rng.uniform(2.5, 5), rng.uniform(2, 4)), dpi=int(rng.integers(50, 101))
        )
        axes = figure.add_subplot()
        x = np.arange(int(rng.integers(4, 30)))
        kind = index % 4
        if kind == 0:
            for _ in range(int(rng.integers(1, 4))):
                axes.plot(x, np.cumsum(rng.normal(size=len(x))))
        elif kind == 1:
            axes.bar(x, rng.uniform(0.5, 5, len(x)))
        elif kind == 2:
            axes.scatter(rng.normal(size=len(x) * 5), rng.normal(size=len(x) * 5), s=8)
        else:
            axes.pie(rng.uniform(1, 5, int(rng.integers(2, 7))))
        axes.set_title(f"Figure {index}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
        out.append(load_image(io.BytesIO(buffer.getvalue()), "chart"))
    return out
