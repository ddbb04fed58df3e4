"""The HRNet generator (Li et al. 2019) against pixel optimisation, on the same objective.

    python benchmarks/bench_generator.py [--device cpu] [--sizes 256 512] [--race-size 128]

1. ms per step at each size: pixels (L-BFGS, the default; and Adam) vs the generator (Adam on its weights).
2. ms to apply a trained generator (one forward pass) at 256, 512 and 1024 px.
3. Time to the same style loss at --race-size: the target is the pixel run's style total after --race-steps steps;
   how long each method takes to reach it (the generator gets up to 4x the pixel run's time).
4. Structure kept at that style loss: SSIM between the luminance edges (Sobel magnitude) of the result and of the
   content image, for each method's first picture at or below the target.
5. One generator for many photos (nstcore.training): trained on random crops of the training photos for
   --train-steps steps at --race-size, then applied to held-out photos it never saw; their style and content totals
   (the run's objective, nstcore.training.score) and edge SSIM against the untrained generator (the photo itself) and
   a pixel run of --race-steps L-BFGS steps on each held-out photo.
   Photos: the project's assets/content plus ../shared/images when that folder exists (never needed); held out:
   tubingen.jpg and the_scream.jpg when present, else the last asset.
Random VGG weights (none can be downloaded here) and the project's sample images, so "style" is the loss, not a look.
Writes benchmarks/results_generator.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import CONTENT, STYLE, write_results  # noqa: E402


def step_ms(config, device, network, steps: int, warmup: int = 2) -> float:
    from nstcore import run

    times, previous = [], 0.0
    for snapshot in run(config.replace(steps=warmup + steps), CONTENT, STYLE, device=device, network=network):
        if snapshot.step > warmup:
            times.append(snapshot.elapsed - previous)
        previous = snapshot.elapsed
    return statistics.median(times) * 1000


def edges(gray):
    import torch
    import torch.nn.functional as F

    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])[None, None]
    gx = F.conv2d(gray, kx, padding=1)
    gy = F.conv2d(gray, kx.transpose(-1, -2), padding=1)
    return (gx**2 + gy**2).sqrt()


def ssim(a, b, window: int = 7) -> float:
    """Mean SSIM of two (1, 1, H, W) maps over window x window boxes (constants for a [0, 1]-ish range)."""
    import torch.nn.functional as F

    pool = lambda x: F.avg_pool2d(x, window, 1, window // 2, count_include_pad=False)  # noqa: E731
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = pool(a), pool(b)
    var_a = pool(a * a) - mu_a**2
    var_b = pool(b * b) - mu_b**2
    cov = pool(a * b) - mu_a * mu_b
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(value.mean())


def edge_ssim(image, content) -> float:
    import numpy as np
    import torch

    def gray(array):
        rgb = torch.from_numpy(np.asarray(array, dtype=np.float32) / 255.0)
        return (rgb @ torch.tensor([0.299, 0.587, 0.114]))[None, None]

    return ssim(edges(gray(image)), edges(gray(content)))


def race(config, device, network, target: float | None, budget_s: float, content):
    """Run until the style total reaches ``target`` (or the time budget ends): (seconds, steps, style, edge SSIM)."""
    from nstcore import Controls, run

    controls = Controls([config.loss_weights()], lr=config.effective_lr)
    last = None
    image = None
    snapshots = run(config.replace(preview_every=10), CONTENT, STYLE, device=device, network=network, controls=controls)
    for snapshot in snapshots:
        style = sum(snapshot.loss.style.values())
        if snapshot.image is not None:
            image = snapshot.image
        if target is not None and style <= target and snapshot.image is not None:
            snapshots.close()
            return snapshot.elapsed, snapshot.step, style, edge_ssim(snapshot.image, content)
        if target is not None and style <= target:
            controls.request_image()  # the picture at the next step
        last = (snapshot.elapsed, snapshot.step, style)
        if snapshot.elapsed > budget_s:
            break
    snapshots.close()
    assert last is not None
    # not reached: the structure of its last picture, at its own (higher) style total
    return (*last, edge_ssim(image, content) if image is not None else None)


SHARED = ROOT.parent / "shared" / "images"
HELD_OUT_NAMES = ("tubingen.jpg", "the_scream.jpg")


def photo_split() -> tuple[list[Path], list[Path]]:
    """(training photos, held-out photos): assets/content plus ../shared/images if present, the style excluded."""
    photos = sorted((ROOT / "assets" / "content").glob("*.png"))
    if SHARED.is_dir():
        photos += sorted(p for p in SHARED.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    held = [p for p in photos if p.name in HELD_OUT_NAMES] or photos[-1:]
    return [p for p in photos if p not in held], held


def held_out(config, device, network, train_steps: int, race_steps: int) -> tuple[list[str], str]:
    """Rows comparing a generator trained on other photos with pixel runs on photos it never saw."""
    from PIL import Image

    from nstcore import resize_long_side, run
    from nstcore.generator import apply_generator, generator_from_weights
    from nstcore.tensors import image_to_tensor
    from nstcore.training import score, train

    training, held = photo_split()
    gen_config = config.replace(generator="hrnet", steps=train_steps, preview_every=0)
    t0 = time.perf_counter()
    last = list(train(gen_config, training, STYLE, device=device, network=network))[-1]
    train_s = time.perf_counter() - t0
    model = generator_from_weights(last.trained[0], gen_config).to(device)
    style = [image_to_tensor(resize_long_side(Image.open(STYLE).convert("RGB"), config.size), device)]
    rows = [
        f"| held-out photo ({config.size} px) | method | seconds | style total | content total | edge SSIM with it |",
        "|---|---|---|---|---|---|",
    ]
    for path in held:
        photo = resize_long_side(Image.open(path).convert("RGB"), config.size)
        content = image_to_tensor(photo, device)
        cells = []
        apply_generator(model, content)  # warm-up
        t0 = time.perf_counter()
        out = apply_generator(model, content)
        cells.append(("trained generator, one pass", time.perf_counter() - t0, out))
        cells.append(("untrained (the photo itself)", 0.0, content))
        t0 = time.perf_counter()
        pixels = list(run(config.replace(steps=race_steps), path, STYLE, device=device, network=network))[-1]
        cells.append(
            (f"pixels, {race_steps} L-BFGS steps", time.perf_counter() - t0, image_to_tensor(pixels.image, device))
        )
        for name, seconds, image in cells:
            losses = score(config, image, content, style, network)
            array = (image[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()
            rows.append(
                f"| {path.name} | {name} | {seconds:.2f} | {sum(losses.style.values()):.3g} | {losses.content:.3g} | "
                f"{edge_ssim(array, photo):.3f} |"
            )
            print(rows[-1], file=sys.stderr)
    note = (
        f"Generator trained once on {len(training)} other photos ({', '.join(p.name for p in training)}): "
        f"{train_steps} steps of {config.size} px crops in {train_s:.0f} s."
    )
    return rows, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=5, help="Timed steps per cell (after 2 warm-up).")
    parser.add_argument("--race-size", type=int, default=128)
    parser.add_argument("--race-steps", type=int, default=60)
    parser.add_argument("--train-steps", type=int, default=300, help="Steps of the many-photo generator.")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_generator.md"))
    args = parser.parse_args()

    from PIL import Image

    from nstcore import StyleConfig, describe_device, load_network, resize_long_side, resolve_device, run
    from nstcore.generator import apply_generator
    from nstcore.hrnet import HRNet
    from nstcore.tensors import image_to_tensor

    device = resolve_device(args.device)
    network = load_network("vgg19", "random", device)
    base = StyleConfig(weights="random", preview_every=0, precision="fp32")
    rows = ["| what | size | pixels L-BFGS | pixels Adam | hrnet generator |", "|---|---|---|---|---|"]
    for size in args.sizes:
        cells = [
            step_ms(base.replace(size=size, optimizer=opt), device, network, args.steps) for opt in ("lbfgs", "adam")
        ]
        cells.append(step_ms(base.replace(size=size, generator="hrnet"), device, network, args.steps))
        rows.append(f"| ms per step | {size} | " + " | ".join(f"{c:.0f}" for c in cells) + " |")
        print(rows[-1], file=sys.stderr)
    photo = Image.open(CONTENT).convert("RGB")
    model = HRNet(residual=True).to(device).eval()
    apply_rows = ["| apply a trained generator | size | ms (median of 3) |", "|---|---|---|"]
    for size in (256, 512, 1024):
        tensor = image_to_tensor(resize_long_side(photo, size), device)
        apply_generator(model, tensor)  # warm-up
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            apply_generator(model, tensor)
            if device.type == "cuda":
                import torch

                torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) * 1000)
        apply_rows.append(f"| one forward pass | {size} | {statistics.median(times):.0f} |")
        print(apply_rows[-1], file=sys.stderr)

    race_config = base.replace(size=args.race_size, steps=args.race_steps)
    content = resize_long_side(photo, args.race_size)
    t0 = time.perf_counter()
    pixel_run = list(run(race_config, CONTENT, STYLE, device=device, network=network))
    pixel_time = time.perf_counter() - t0
    target = sum(pixel_run[-1].loss.style.values())
    results = {
        "pixels L-BFGS": race(race_config, device, network, target, pixel_time * 4, content),
        "hrnet generator": race(
            race_config.replace(generator="hrnet", steps=100_000), device, network, target, pixel_time * 4, content
        ),
    }
    race_rows = [
        f"| to the pixel run's style total after {args.race_steps} steps ({target:.3g}), {args.race_size} px | "
        "seconds | steps | style total | edge SSIM with the content |",
        "|---|---|---|---|---|",
    ]
    for name, (seconds, steps, style, structure) in results.items():
        reached = style <= target
        when = f"{seconds:.1f}" if reached else f"not within {seconds:.0f}"
        ssim_text = (f"{structure:.3f}" + ("" if reached else " (its last picture)")) if structure is not None else "—"
        race_rows.append(f"| {name} | {when} | {steps} | {style:.3g} | {ssim_text} |")
        print(race_rows[-1], file=sys.stderr)
    held_rows, held_note = held_out(race_config, device, network, args.train_steps, args.race_steps)
    setup = (
        f"{describe_device(device)}, fp32, random VGG19 weights, the sample images; step times are medians of "
        f"{args.steps} steps after 2 warm-up"
    )
    table = "\n\n".join(
        ["\n".join(rows), "\n".join(apply_rows), "\n".join(race_rows), held_note + "\n\n" + "\n".join(held_rows) + "\n"]
    )
    write_results(args.out, "HRNet generator vs pixel optimisation", setup, table)


if __name__ == "__main__":
    main()
