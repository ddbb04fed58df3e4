"""Render the project's own sample images (no downloads, no third-party pictures).

Two content scenes and three style textures, deterministic (seeded), 512 px on the long side::

    python assets/make_assets.py        # rewrites assets/content/*.png and assets/style/*.png

They are stand-ins with the properties style transfer cares about: content with clear layout and edges; styles
with strong, repeated local texture and colour statistics (what Gatys et al.'s Gram matrices capture).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
W, H = 512, 384


def _vertical_gradient(top: tuple[int, int, int], bottom: tuple[int, int, int], w: int, h: int) -> np.ndarray:
    t = np.linspace(0, 1, h)[:, None, None]
    return (np.array(top) * (1 - t) + np.array(bottom) * t).repeat(w, axis=1)


def lake_house(rng: np.random.Generator) -> Image.Image:
    """Mountains, a lake with reflections, a red house and trees: large shapes plus sharp edges."""
    sky = _vertical_gradient((70, 130, 200), (235, 205, 160), W, H)
    img = Image.fromarray(sky.astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.ellipse((380, 40, 440, 100), fill=(255, 236, 150))
    for base, colour, amp in ((200, (95, 105, 140), 60), (230, (60, 95, 80), 35)):
        xs = np.arange(0, W + 8, 8)
        ys = base - amp * np.abs(np.sin(xs / 70.0 + base)) - 10 * np.sin(xs / 23.0)
        d.polygon([(0, H)] + list(zip(xs.tolist(), ys.tolist())) + [(W, H)], fill=colour)
    d.rectangle((0, 260, W, H), fill=(50, 90, 130))
    # house
    d.rectangle((150, 190, 250, 260), fill=(180, 50, 40))
    d.polygon([(140, 192), (200, 145), (260, 192)], fill=(80, 40, 30))
    for x in (165, 215):
        d.rectangle((x, 210, x + 20, 232), fill=(250, 230, 140))
    d.rectangle((192, 228, 208, 260), fill=(70, 40, 25))
    # trees
    for x in (60, 95, 300, 335, 470):
        h = int(rng.integers(45, 75))
        d.rectangle((x - 3, 255 - 12, x + 3, 258), fill=(70, 45, 25))
        d.polygon([(x - 18, 250), (x, 250 - h), (x + 18, 250)], fill=(30, 80 + int(rng.integers(0, 40)), 40))
    # reflection of everything above the waterline, darkened and rippled
    arr = np.asarray(img).astype(np.float32)
    above = arr[260 - (H - 260) : 260][::-1]
    shift = (3 * np.sin(np.arange(above.shape[0]) / 2.0)).astype(int)
    ripple = np.stack([np.roll(row, s, axis=0) for row, s in zip(above, shift)])
    arr[260:] = 0.55 * ripple + 0.45 * np.array([40, 80, 120])
    arr += rng.normal(0, 3, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def still_life(rng: np.random.Generator) -> Image.Image:
    """A vase and fruit on a table: round shaded objects, a figure/ground layout (portrait orientation)."""
    w, h = 384, 512
    arr = _vertical_gradient((200, 190, 170), (150, 140, 125), w, h)
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 340, w, h), fill=(120, 75, 45))
    d.line((0, 340, w, 340), fill=(80, 50, 30), width=4)

    def shaded_ball(cx: int, cy: int, r: int, colour: tuple[int, int, int]) -> None:
        for k in range(r, 0, -2):
            f = 0.55 + 0.45 * (1 - k / r)
            c = tuple(int(min(255, v * f + 40 * (1 - k / r))) for v in colour)
            off = int((r - k) * 0.35)
            d.ellipse((cx - k - off, cy - k - off, cx + k - off, cy + k - off), fill=c)

    # vase
    for y in range(150, 345):
        t = (y - 150) / 195
        half = int(30 + 45 * math.sin(math.pi * t) ** 1.5)
        shade = int(40 * t)
        d.line((192 - half, y, 192 + half, y), fill=(40 + shade, 70 + shade, 150 - shade))
    d.rectangle((172, 130, 212, 152), fill=(45, 75, 150))
    shaded_ball(95, 330, 38, (220, 60, 40))
    shaded_ball(290, 335, 34, (240, 170, 40))
    shaded_ball(330, 350, 26, (120, 170, 50))
    arr = np.asarray(img).astype(np.float32) + rng.normal(0, 3, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def swirls(rng: np.random.Generator) -> Image.Image:
    """Short curved strokes along a swirling flow field, night blues and yellows (an homage to van Gogh)."""
    img = Image.new("RGB", (W, H), (20, 35, 80))
    d = ImageDraw.Draw(img)
    centres = rng.uniform((0, 0), (W, H), size=(6, 2))
    palette = [(30, 60, 140), (60, 100, 180), (110, 150, 210), (230, 200, 80), (250, 230, 140), (20, 40, 90)]
    for _ in range(5000):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        colour = palette[int(rng.integers(len(palette)))]
        pts = [(x, y)]
        for _ in range(8):
            vx = vy = 0.0
            for cx, cy in centres:
                dx, dy = x - cx, y - cy
                r2 = dx * dx + dy * dy + 400.0
                vx += -dy / r2 * 3000
                vy += dx / r2 * 3000
            norm = math.hypot(vx, vy) + 1e-6
            x, y = x + 4 * vx / norm, y + 4 * vy / norm
            pts.append((x, y))
        d.line(pts, fill=colour, width=int(rng.integers(2, 5)))
    return img.filter(ImageFilter.SMOOTH)


def mosaic(rng: np.random.Generator) -> Image.Image:
    """Stained-glass Voronoi cells with dark leading: flat colours and strong edges."""
    pts = rng.uniform((0, 0), (W, H), size=(140, 2))
    colours = rng.choice(
        np.array(
            [
                (200, 40, 40),
                (240, 180, 30),
                (40, 90, 190),
                (30, 140, 90),
                (150, 60, 160),
                (230, 120, 40),
                (90, 180, 220),
            ]
        ),
        size=len(pts),
    )
    yy, xx = np.mgrid[0:H, 0:W]
    dist = (xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2
    order = np.argsort(dist, axis=-1)
    nearest, second = order[..., 0], order[..., 1]
    d1 = np.take_along_axis(dist, nearest[..., None], -1)[..., 0]
    d2 = np.take_along_axis(dist, second[..., None], -1)[..., 0]
    arr = colours[nearest].astype(np.float32) * (0.85 + 0.15 * rng.random((H, W, 1)))
    edge = (np.sqrt(d2) - np.sqrt(d1)) < 3.0
    arr[edge] = (25, 20, 20)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def brush(rng: np.random.Generator) -> Image.Image:
    """Thick short dabs in warm and green hues at random angles (an impressionist texture)."""
    img = Image.new("RGB", (W, H), (210, 190, 150))
    d = ImageDraw.Draw(img)
    palette = np.array(
        [(200, 90, 50), (230, 160, 70), (120, 150, 60), (70, 110, 60), (240, 220, 170), (160, 60, 70), (90, 120, 170)]
    )
    for _ in range(3500):
        x, y = rng.uniform(-10, W + 10), rng.uniform(-10, H + 10)
        angle = rng.normal(0.6, 0.35)
        length = rng.uniform(8, 22)
        colour = palette[int(rng.integers(len(palette)))] + rng.integers(-20, 20, 3)
        d.line(
            (x, y, x + length * math.cos(angle), y + length * math.sin(angle)),
            fill=tuple(int(c) for c in np.clip(colour, 0, 255)),
            width=int(rng.integers(4, 9)),
        )
    return img


def main() -> None:
    scenes = {
        "content/lake_house.png": lake_house,
        "content/still_life.png": still_life,
        "style/swirls.png": swirls,
        "style/mosaic.png": mosaic,
        "style/brush.png": brush,
    }
    for i, (rel, render) in enumerate(scenes.items()):
        path = HERE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        render(np.random.default_rng(1000 + i)).save(path, optimize=True)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
