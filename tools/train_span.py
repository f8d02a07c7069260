r"""Train the bundled SPAN models (48 channels, official layout) on the CPU, resumably.

Data: the photos in `train/photos` of the shared datasets folder ONLY (never a benchmark image). A
few of them (every 20th, sorted by name) are held out for a quick validation PSNR. Degradation is
the evaluation protocol's: Pillow BICUBIC downscale of the whole (scale-cropped) photo, done once at
start; random aligned LR/HR crops, flips and 90-degree rotations; L1 loss (or, for a last
PSNR-oriented fine-tuning stage as in the SPAN paper, `--loss mse`); Adam; warm-up then cosine
decay; EMA of the weights (the EMA model is what gets exported).

Two ways to train each 3x3 convolution of SPAN (`--conv-mode`):
  reparam  the Conv3XC chain (1x1 -> 3x3 -> 1x1 + 1x1 skip), as in the paper; ~2.5x slower a step.
  fused    the single 3x3 `eval_conv` directly. On a 2-core CPU this gets ~2.5x more steps in the
           same time, which matters far more than re-parameterisation when training is this short.
           On export the chain tensors are written so that fusing them reproduces `eval_conv`
           exactly (identity 1x1s, zero skip), so the file stays a valid official-layout SPAN
           checkpoint.

The learning-rate schedule runs on progress = trained wall-clock time / `--budget-minutes` (or steps
/ `--total-steps` when no budget is given), so a run that is slowed by a busy machine still finishes
its decay on time. Checkpoints (model, EMA, optimizer, step, elapsed time, RNG states) are written
atomically every `--checkpoint-minutes` and on SIGTERM/SIGINT; rerunning the same command resumes.

  python tools/train_span.py --scale 2 --run training/runs/x2 --budget-minutes 75
  python tools/train_span.py --scale 4 --run training/runs/x4 --init-body training/runs/x2/last.pt
  python tools/train_span.py --scale 2 --run training/runs/x2 \
      --export resources/models/span-x2.safetensors
"""

from __future__ import annotations

import argparse
import copy
import csv
import math
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sr_studio.archs.span import SPAN  # noqa: E402
from sr_studio.archs.span.network import Conv3XC  # noqa: E402

DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


# ----------------------------------------------------------------------------- data


def image_pair(hr: Image.Image, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) uint8 arrays: the image cropped to a multiple of `scale` and its bicubic LR."""
    width, height = hr.width - hr.width % scale, hr.height - hr.height % scale
    hr = hr.crop((0, 0, width, height))
    lr = hr.resize((width // scale, height // scale), Image.BICUBIC)
    return np.asarray(hr, dtype=np.uint8).copy(), np.asarray(lr, dtype=np.uint8).copy()


def load_pairs(
    folder: Path, scale: int, smaller_copies: tuple[float, ...] = ()
) -> tuple[list, list, list[str]]:
    """(HR uint8, LR uint8) pairs, split into training and held-out validation photos.

    `smaller_copies` adds each training photo again at those fractions of its size (antialiased):
    the same scenes with their detail packed denser, as in a city photographed from further away,
    and with the photo's own JPEG noise averaged out of the target. 76 photos are few; this is the
    usual multi-scale augmentation of SR training sets."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not paths:
        raise SystemExit(f"{folder}: no training photos found")
    train, validation, names = [], [], []
    for index, path in enumerate(paths):
        with Image.open(path) as image:
            hr = image.convert("RGB")
        if index % 20 == 19:
            validation.append(image_pair(hr, scale))
            names.append(path.name)
            continue
        train.append(image_pair(hr, scale))
        for fraction in smaller_copies:
            size = (round(hr.width * fraction), round(hr.height * fraction))
            train.append(image_pair(hr.resize(size, Image.LANCZOS), scale))
    return train, validation, names


def flipped_and_turned(rng: np.random.Generator, *crops: np.ndarray) -> list[np.ndarray]:
    """The same random flips and quarter turns applied to aligned crops (HWC), as contiguous
    arrays."""
    horizontal, vertical, turns = rng.random() < 0.5, rng.random() < 0.5, int(rng.integers(4))
    out = []
    for crop in crops:
        if horizontal:
            crop = crop[:, ::-1]
        if vertical:
            crop = crop[::-1]
        out.append(np.ascontiguousarray(np.rot90(crop, turns)))
    return out


def to_tensor(arrays) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)


def camera_batch(
    pairs,
    batch: int,
    lr_patch: int,
    scale: int,
    rng: np.random.Generator,
    clean_share: float,
    recipe_name: str = "camera",
):
    """(LR, HR, clean) crops where each LR is its HR crop through a random camera-like degradation.

    The degradation runs on the HR crop itself (blur at the HR's resolution, then down to LR size),
    one recipe per crop from `rng`, so a resumed run draws the same stream. `clean_share` of the
    crops get the clean bicubic protocol only; `clean` marks them (a bool per crop).
    """
    from sr_studio.degradation import TRAINING_RECIPES, apply, is_clean_protocol

    make_recipe = TRAINING_RECIPES[recipe_name]
    hr_patch = lr_patch * scale
    lrs, hrs, clean = [], [], []
    for _ in range(batch):
        hr, _ = pairs[rng.integers(len(pairs))]
        y = int(rng.integers(hr.shape[0] - hr_patch + 1))
        x = int(rng.integers(hr.shape[1] - hr_patch + 1))
        (crop,) = flipped_and_turned(rng, hr[y : y + hr_patch, x : x + hr_patch])
        hr_tensor = to_tensor([crop])
        recipe = make_recipe(hr_patch, hr_patch, scale, rng, clean_share=clean_share)
        lrs.append(apply(hr_tensor, recipe, seed=int(rng.integers(2**31)))[0])
        hrs.append(hr_tensor[0])
        clean.append(is_clean_protocol(recipe))
    # Rounded to 8 bits, as every photo the model will see is.
    return (
        torch.stack(lrs).mul_(255).round_().div_(255),
        torch.stack(hrs),
        torch.tensor(clean, dtype=torch.bool),
    )


def random_batch(pairs, batch: int, lr_patch: int, scale: int, rng: np.random.Generator):
    """A batch of aligned (LR, HR) crops in 0..1, randomly flipped and rotated."""
    lrs, hrs = [], []
    for _ in range(batch):
        hr, lr = pairs[rng.integers(len(pairs))]
        y = int(rng.integers(lr.shape[0] - lr_patch + 1))
        x = int(rng.integers(lr.shape[1] - lr_patch + 1))
        lr_crop = lr[y : y + lr_patch, x : x + lr_patch]
        hr_crop = hr[y * scale : (y + lr_patch) * scale, x * scale : (x + lr_patch) * scale]
        lr_crop, hr_crop = flipped_and_turned(rng, lr_crop, hr_crop)
        lrs.append(np.ascontiguousarray(lr_crop))
        hrs.append(np.ascontiguousarray(hr_crop))
    return to_tensor(lrs), to_tensor(hrs)


def y_channel(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64) / 255.0
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2])


@torch.no_grad()
def validation_psnr(model, pairs, scale: int, crop: int = 128, degraded: bool = False) -> float:
    """Mean Y PSNR (shave = scale) on centre crops of the held-out training photos, 8-bit output.

    `degraded` feeds the crops through the degraded benchmark's fixed recipe instead of bicubic."""
    from sr_studio.degradation import degrade_benchmark_image

    values = []
    for index, (hr, lr) in enumerate(pairs):
        cy, cx = lr.shape[0] // 2 - crop // 2, lr.shape[1] // 2 - crop // 2
        lr_crop = lr[cy : cy + crop, cx : cx + crop]
        hr_crop = hr[cy * scale : (cy + crop) * scale, cx * scale : (cx + crop) * scale]
        if degraded:
            lr_crop = degrade_benchmark_image(hr_crop, scale, f"validation-{index}")
        x = torch.from_numpy(np.ascontiguousarray(lr_crop)).permute(2, 0, 1)[None].float() / 255.0
        out = model(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
        out = np.round(out * 255.0).astype(np.uint8)
        a = y_channel(out)[scale:-scale, scale:-scale]
        b = y_channel(hr_crop)[scale:-scale, scale:-scale]
        mse = np.mean((a - b) ** 2)
        values.append(10 * math.log10(255.0**2 / mse))
    return float(np.mean(values))


# ----------------------------------------------------------------------------- model modes


def conv_blocks(model):
    return [m for m in model.modules() if isinstance(m, Conv3XC)]


def set_conv_mode(model: SPAN, mode: str) -> None:
    """Which tensors train: the Conv3XC chains (reparam) or the fused 3x3 convs (fused)."""
    for block in conv_blocks(model):
        for p in list(block.sk.parameters()) + list(block.conv.parameters()):
            p.requires_grad_(mode == "reparam")
        block.eval_conv.weight.requires_grad_(mode == "fused")
        block.eval_conv.bias.requires_grad_(mode == "fused")
    # Conv3XC.forward picks the chain in train mode and eval_conv in eval mode; nothing else in SPAN
    # depends on the mode.
    model.train(mode == "reparam")


def initialise_fused(model: SPAN) -> None:
    """Start the fused 3x3 convs from the fused random chains, then route the image through.

    SPAN has no global skip, so from a random start it must first learn to reproduce the input,
    which costs thousands of steps. Here conv_1 copies the normalised image into feature channels
    0-2, conv_cat passes them on, and the upsampler turns them back into the image at every
    sub-pixel: the network starts as a nearest-neighbour upscaler and learns the detail on top. Only
    the initial weights differ from the paper's; the architecture and file layout are the official
    ones.
    """
    model.fuse()
    scale = int(round((model.upsampler[0].out_channels // 3) ** 0.5))
    with torch.no_grad():
        first = model.conv_1.eval_conv
        first.weight[:3] = 0
        first.bias[:3] = 0
        for c in range(3):
            first.weight[c, c, 1, 1] = 1.0
        model.conv_cat.weight[:3] = 0
        model.conv_cat.bias[:3] = 0
        for c in range(3):
            model.conv_cat.weight[c, c, 0, 0] = 1.0 / model.img_range
        up = model.upsampler[0]
        up.weight.mul_(0.001)  # the other channels start nearly silent
        up.weight[:, :3] = 0
        for c in range(3):
            for k in range(scale * scale):
                up.weight[c * scale * scale + k, c, 1, 1] = 1.0
                up.bias[c * scale * scale + k] = model.mean.view(-1)[c]


def upsampler_from_smaller(target: SPAN, source_state: dict, source_scale: int) -> None:
    """Start the x4 upsampler as the x2 one followed by a nearest-neighbour x2 (same image at
    start)."""
    weight, bias = source_state["upsampler.0.weight"], source_state["upsampler.0.bias"]
    scale = int(round((target.upsampler[0].out_channels // 3) ** 0.5))
    factor = scale // source_scale
    with torch.no_grad():
        for c in range(3):
            for i in range(scale):
                for j in range(scale):
                    k_source = (i // factor) * source_scale + (j // factor)
                    target.upsampler[0].weight[c * scale * scale + i * scale + j] = weight[
                        c * source_scale**2 + k_source
                    ]
                    target.upsampler[0].bias[c * scale * scale + i * scale + j] = bias[
                        c * source_scale**2 + k_source
                    ]


@torch.no_grad()
def write_chain_from_eval_conv(block: Conv3XC) -> None:
    """Set sk/conv so that fusing them gives exactly the trained eval_conv (identity 1x1s, zero
    skip)."""
    first, middle, last = block.conv
    weight, bias = block.eval_conv.weight, block.eval_conv.bias
    c_out, c_in = weight.shape[:2]
    first.weight.zero_()
    first.bias.zero_()
    first.weight[:c_in, :, 0, 0] = torch.eye(c_in)
    middle.weight.zero_()
    middle.bias.zero_()
    middle.weight[:c_out, :c_in] = weight
    middle.bias[:c_out] = bias
    last.weight.zero_()
    last.bias.zero_()
    last.weight[:, :c_out, 0, 0] = torch.eye(c_out)
    block.sk.weight.zero_()
    block.sk.bias.zero_()


def export_label(args) -> str:
    return "" if args.export_strength == 1.0 else f", exported at {args.export_strength:.0%}"


def export_text(args) -> str:
    if args.export_strength == 1.0:
        return ""
    return (
        f"\n\nIts weights are the fine-tuned ones taken {args.export_strength:.0%} of the way "
        "from the published\nmodel's: weight-space interpolation, as WiSE-FT (Wortsman et al., "
        "CVPR 2022) does and as the\napp's *Cleanup* strength does below 100 %. Along that line "
        "the clean loss grows about linearly\nand the degraded gain comes mostly near the end, "
        "so this point keeps nearly all of the gain for\nless of the loss "
        '(`benchmarks/RESULTS.md`, "Cleanup strength").'
    )


def export_option(args) -> str:
    return "" if args.export_strength == 1.0 else f" --export-strength {args.export_strength:g}"


def base_weights(args) -> Path:
    """The model a fine-tuning run started from: --compare-with, else the bundled published SPAN."""
    return args.compare_with or REPO / "resources" / "models" / f"span-x{args.scale}.safetensors"


def blended_export(tensors: dict[str, torch.Tensor], args) -> tuple[torch.nn.Module, dict]:
    """The exported weights moved towards the model the run started from by the app's own cleanup
    blend (model_loading.blended_model), and the network they make; the Conv3XC chains are then
    rewritten from the blended 3x3 kernels, the ones that run."""
    from sr_studio.checkpoint import read_state_dict
    from sr_studio.model_blending import Cleanup
    from sr_studio.model_loading import blended_model

    cleanup = Cleanup(base_weights(args), args.export_strength)
    base = read_state_dict(cleanup.base)
    network = blended_model(tensors, "the export", base, cleanup.base, cleanup.strength).network
    return network, exportable_state_dict(network, "fused")


def exportable_state_dict(ema: SPAN, mode: str) -> dict[str, torch.Tensor]:
    model = copy.deepcopy(ema).float()
    if mode == "fused":
        for block in conv_blocks(model):
            write_chain_from_eval_conv(block)
    model.fuse()  # eval_conv recomputed from the chain: consistent with the rest in both modes
    return {k: v.detach().float().contiguous().clone() for k, v in model.state_dict().items()}


def fp32_upsampler(model: SPAN) -> None:
    """Run the last conv in float32 under autocast: the output is the image itself, and bf16's 8-bit
    mantissa would quantise it at about one grey level."""
    conv = model.upsampler[0]
    original = conv.forward

    def forward(x):
        with torch.autocast("cpu", enabled=False):
            return original(x.float())

    conv.forward = forward


# ----------------------------------------------------------------------------- model card

PUBLISHED_SPAN = {
    2: (38.08, 33.71, 32.24),
    4: (32.20, 28.66, 26.18),
}  # Wan et al. 2024, Table (ch48)
TARGETS = {2: (37.3, 32.9, 30.3), 4: (31.3, 28.0, 25.0)}


def validation_rows(log_path: Path, rows: int = 14) -> list[dict]:
    """The logged validations, thinned to about `rows` evenly spread ones (first and last kept)."""
    with open(log_path, newline="") as file:
        entries = [r for r in csv.DictReader(file) if r["val_psnr"]]
    if len(entries) > rows:
        picks = sorted({round(i * (len(entries) - 1) / (rows - 1)) for i in range(rows)})
        entries = [entries[i] for i in picks]
    return entries


def curve_table(log_path: Path) -> str:
    entries = validation_rows(log_path)
    lines = [
        "| step | training minutes | learning rate | training loss (L1, or MSE in an MSE stage) | "
        "held-out PSNR (dB) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in entries:
        lines.append(
            f"| {r['step']} | {float(r['elapsed_min']):.0f} | {r['lr']} | {r['loss'] or '-'} | "
            f"{r['val_psnr']} |"
        )
    return "\n".join(lines)


def photo_curve_table(log_path: Path) -> str:
    entries = validation_rows(log_path)
    lines = [
        "| step | training minutes | learning rate | L1 loss | held-out PSNR, clean (dB) | "
        "held-out PSNR, degraded (dB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in entries:
        lines.append(
            f"| {r['step']} | {float(r['elapsed_min']):.0f} | {r['lr']} | {r['loss'] or '-'} | "
            f"{r['val_psnr']} | "
            f"{r.get('val_psnr_degraded') or '-'} |"
        )
    return "\n".join(lines)


def smaller_copies(run_args: dict) -> list[str]:
    """The fractions of `--smaller-copies` a run used, as typed (its args are stored as strings)."""
    return run_args.get("smaller_copies", "[]").strip("[]").replace(",", " ").split()


def smaller_copies_option(run_args: dict) -> str:
    """The `--smaller-copies` option a run used, as it is typed ("" when none)."""
    fractions = smaller_copies(run_args)
    return f"--smaller-copies {' '.join(fractions)} " if fractions else ""


def clean_teacher_option(run_args: dict) -> str:
    """The `--clean-teacher` option a run used, as it is typed ("" when none)."""
    teacher = run_args.get("clean_teacher", "None")
    return f"--clean-teacher {teacher} " if teacher != "None" else ""


def photo_training_text(run_args: dict, scale: int) -> str:
    """The card's data and degradation bullets, for the settings of the run's last stage."""
    from sr_studio.degradation import TRAINING_RECIPE_TEXT

    patch = int(run_args.get("lr_patch", 48)) * scale
    fractions = smaller_copies(run_args)
    copies = (
        f" Each photo also comes resized to {' and '.join(fractions)} of its size (antialiased):"
        " denser detail and cleaner targets from the same scenes."
        if fractions
        else ""
    )
    # A run that ended on camera-jpeg began on camera (the photo-x4 stages).
    degradation = run_args.get("degradation", "camera")
    names = {"camera-jpeg": ["camera", "camera-jpeg"]}.get(degradation, [degradation])
    others = (
        "the others one of these recipes (the stages below say which each used)"
        if len(names) > 1
        else "the others"
    )
    teacher = (
        "\n- On the clean crops, the published model's own output is a second target beside the "
        "ground truth\n  (`--clean-teacher`), so that what it learned from a far larger dataset is "
        "not forgotten."
        if clean_teacher_option(run_args)
        else ""
    )
    if "train/varied" in str(run_args.get("photo_folders", "")):
        data = "\n".join(
            [
                "- Data: the 80 scene photographs of `train/photos` and the 402 varied photographs",
                "  of `train/varied` in the shared datasets (people, streets, interiors,",
                "  buildings, objects, animals, landscapes; camera-original JPEGs from about 100",
                "  camera and",
                "  phone models among them), every 20th of each folder, sorted by name, held out",
                "  for the curve below. No benchmark image and no real LR/HR pair was used. Their",
                "  terms, as their sources state them (`train/varied/SOURCES.tsv`): CC0; the",
                "  Unsplash and Pexels licenses; 'free to use however you wish'",
                "  (drewnoakes/metadata-extractor-images); CC BY 4.0",
                "  (linuxdeepin/deepin-wallpapers, five pop-os/wallpapers: credited here); a few",
                "  CC BY-SA 4.0 among the",
                "  elementary/wallpapers set. The weights hold no image and reproduce none.",
            ]
        )
    else:
        data = (
            "- Data: the 76 training photographs of `train/photos` in the shared datasets (every "
            "20th of the 80,\n  sorted by name, held out for the curve below). No benchmark image "
            "was used."
        )
    return (
        data + f"{copies}\n"
        f"- Degradation, drawn afresh for every {patch}x{patch} HR crop. A share of crops get the "
        f"clean bicubic protocol only; {others}:\n"
        + "".join(f"  - {TRAINING_RECIPE_TEXT[name]};\n" for name in names)
        + "- The LR is rounded to 8 bits like any photo. Flips and 90-degree rotations."
        + teacher
    )


def write_photo_card(args, state: dict, model) -> None:
    """The card of a model trained with camera degradations: clean and degraded tables beside the
    published SPAN it started from and bicubic, the recipe, the curve; plus its JSON sidecar."""
    import json

    from sr_studio.degradation import BENCHMARK_RECIPE_TEXT
    from sr_studio.evaluation import (
        BENCHMARK_SETS,
        REAL_PAIR_SETS,
        automatic_upscaler,
        bicubic_upscaler,
        evaluate_set,
        markdown_table,
        model_upscaler,
    )
    from sr_studio.model_loading import load_model
    from sr_studio.weights.store import sha256_of

    scale = args.scale
    published = load_model(base_weights(args))
    started = time.perf_counter()
    tables = {}
    for degraded, sets in ((False, BENCHMARK_SETS), (True, ("Set5", "Set14", "Urban100"))):
        rows = []
        for label, upscaler in (
            (f"this model (step {state['step']}{export_label(args)})", model_upscaler(model)),
            (f"SPAN x{scale} published (`bundled-span-x{scale}`)", model_upscaler(published)),
            ("bicubic (Pillow)", bicubic_upscaler(scale)),
        ):
            rows.append(
                (
                    label,
                    scale,
                    [evaluate_set(upscaler, scale, args.datasets, name, degraded) for name in sets],
                )
            )
        tables[degraded] = rows
    real_rows = []
    real_sets = [name for name, (_, set_scale) in REAL_PAIR_SETS.items() if set_scale == scale]
    if real_sets:
        for label, upscaler in (
            (f"this model (step {state['step']}{export_label(args)})", model_upscaler(model)),
            (
                "Automatic: this model at the cleanup each photo needs (the app's default)",
                automatic_upscaler(args.export, base_weights(args)),
            ),
            (f"SPAN x{scale} published (`bundled-span-x{scale}`)", model_upscaler(published)),
            ("bicubic (Pillow)", bicubic_upscaler(scale)),
        ):
            results = [evaluate_set(upscaler, scale, args.datasets, name) for name in real_sets]
            real_rows.append((label, scale, results))
    seconds = time.perf_counter() - started

    def gains(rows) -> dict[str, float]:
        """This model minus the published SPAN, by set label."""
        ours, theirs = rows[0][2], rows[1][2]
        return {a.name: a.psnr - b.psnr for a, b in zip(ours, theirs, strict=True)}

    def differences(rows) -> str:
        return ", ".join(f"{name} {gain:+.2f} dB" for name, gain in gains(rows).items())

    def worst(rows, sets) -> float:
        return min(gain for name, gain in gains(rows).items() if name.split(" (")[0] in sets)

    # The photo model's targets, on the degraded benchmark's sets: +0.8 dB degraded, at most -0.7 dB
    # clean (Automatic gives clean sources the clean model).
    degraded_gain = worst(tables[True], ("Set14", "Urban100"))
    clean_loss = worst(tables[False], BENCHMARK_SETS)
    degraded_met, clean_met = degraded_gain >= 0.8, clean_loss >= -0.7
    run_args = state.get("args", {})
    minutes = state.get("prior_minutes", 0.0) + state["elapsed"] / 60
    notes = args.card_notes.read_text(encoding="utf-8").strip() if args.card_notes else ""
    card_id = f"bundled-span-x{scale}-photo"
    real_gain = (real_rows[0][2][0].psnr - real_rows[2][2][0].psnr) if real_rows else None
    real_met = real_gain is not None and real_gain >= 0.3
    role = (
        "Automatic, the default of the window and the command line, runs it for camera JPEGs,\n"
        "noisy and soft photos, at the cleanup each one needs (README, 'Which model?'); choose it "
        f"by hand\n(`--model {card_id}`) to run it on every photo."
    )
    real_text = (
        f"; real camera pairs: {real_gain:+.2f} dB of +0.3 ({'met' if real_met else 'not met'})"
        if real_gain is not None
        else ""
    )
    verdict = (
        f"Degraded: at least {degraded_gain:+.2f} dB on Set14 and Urban100 "
        f"({'met' if degraded_met else 'not met'}); clean: at worst {clean_loss:+.2f} dB "
        f"({'met' if clean_met else 'not met'}: Automatic gives clean sources the clean model)"
        f"{real_text}."
    )
    interpolated = export_text(args)
    text = f"""# SPAN x{scale} Photo (`{card_id}`)

- **id**: {card_id}
- **arch**: SPAN
- **scale**: {scale}
- **license**: Apache-2.0
- **purpose**: real-world
- **default**: false
- **base**: bundled-span-x{scale}

**For**: Photo: camera JPEGs, phone photos, noise. {role}

## What it is
The published SPAN ch48 x{scale} (Wan et al., "Swift Parameter-free Attention Network for Efficient
Super-Resolution", CVPR Workshops 2024; https://github.com/hongyuanyu/SPAN, Apache-2.0; bundled as
`bundled-span-x{scale}`), fine-tuned by the SR Studio project to restore what a camera adds (lens \
and
demosaicing blur, sensor noise, JPEG blocks) while it enlarges, with a fidelity loss: it invents no
texture. Same architecture, same file layout (official SPAN keys, .safetensors), same speed as the
clean model. A derivative of the authors' weights under the same license, Apache-2.0.{interpolated}

## Measured quality (PSNR / SSIM on the Y channel)
Clean protocol as in the papers (Pillow BICUBIC LR, all 100 Urban100 images). Degraded: the same HR
images through the fixed, seeded camera-like degradation of `benchmarks/DEGRADED.md`:

{BENCHMARK_RECIPE_TEXT}

Whole image, float32 on the CPU, output rounded to 8 bits, BT.601 Y, {scale} px shaved.

**Camera-like degraded input** (this model minus the published SPAN: {differences(tables[True])}):

{markdown_table(tables[True])}

**Clean bicubic input** (this model minus the published SPAN: {differences(tables[False])}):

{markdown_table(tables[False])}
{real_pair_text(real_rows)}
Targets (issue 26): at least +0.8 dB over the published SPAN x{scale} on degraded input (Set14 and
Urban100), at least +0.3 dB on real camera pairs, at most 0.7 dB below it on clean input.
{verdict} Evaluated in {seconds:.0f} s on {machine_description()}.

## Training
{photo_training_text(run_args, scale)}
- L1 loss, Adam (betas 0.9, 0.99), {int(run_args.get("warmup_steps", 0))}-step warm-up then cosine \
decay over
  {run_args.get("budget_minutes", "?")} training minutes to 2% of the peak, batch \
{run_args.get("batch", "?")},
  EMA of the weights (0.999; the EMA is exported). bfloat16 autocast on the CPU (native AVX-512 \
BF16), last
  conv in float32. The 3x3 convolutions train in their fused form (`--conv-mode fused`).
{notes}
- **Steps: {state["step"]}**, **{minutes:.0f} minutes** of training on a 2-core CPU (one torch \
thread, then two), no GPU.

## Learning curve (EMA weights; 128x128 LR centre crops of the 4 held-out photos, clean and \
degraded)

{photo_curve_table(args.run / "log.csv")}

## Reproduce / continue
The run state is in the repository: `{args.run.as_posix()}/last.pt` (see the README beside it).

    .venv/bin/python tools/train_span.py --scale {scale} --run {args.run.as_posix()} --degradation \
{run_args.get("degradation", "camera")} \\
        --clean-share {run_args.get("clean_share", "?")} --lr {run_args.get("lr", "?")} \
{smaller_copies_option(run_args)}{clean_teacher_option(run_args)}--budget-minutes MINUTES
    .venv/bin/python tools/train_span.py --scale {scale} --run {args.run.as_posix()} \\
        --export {args.export.as_posix()} --card {args.card.as_posix()}{export_option(args)}
"""
    args.card.write_text(text, encoding="utf-8")
    sidecar = {
        "id": card_id,
        "name": f"SPAN x{scale} Photo",
        "arch": "SPAN",
        "scale": scale,
        "license": "Apache-2.0",
        "purpose": "real-world",
        "default": False,  # the clean model stays the default: Automatic chooses between them
        "base": f"bundled-span-x{scale}",  # fine-tuned from it: the cleanup strength blends the two
        "description": f"The published SPAN ch48 x{scale} fine-tuned by SR Studio on camera-like "
        "blur, noise and JPEG: "
        f"for camera JPEGs, phone photos and noisy images. See {args.card.name}.",
        "sha256": sha256_of(args.export),
    }
    args.card.with_suffix(".json").write_text(
        json.dumps(sidecar, indent=2) + "\n", encoding="utf-8"
    )
    print(markdown_table(tables[True]))
    print(markdown_table(tables[False]))


def real_pair_text(rows) -> str:
    """The card's table of real camera LR/HR pairs, when the scale has a set of them."""
    if not rows:
        return ""
    from sr_studio.evaluation import markdown_table

    return f"""
**Real camera LR/HR pairs** (DRealSR dev: 45 registered crops from five cameras; Wei et al.,
"Component Divide-and-Conquer for Real-World Image Super-Resolution", ECCV 2020; evaluation only,
never trained on; the real LR as the camera took it, `tools/evaluate.py --sets DRealSR_x4_dev`):

{markdown_table(rows)}
"""


def machine_description() -> str:
    """The CPU model and whether it has native bfloat16, for the figures' context."""
    name, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name == "unknown CPU":
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    bf16 = (
        "AMX"
        if "amx_bf16" in flags
        else "AVX-512 BF16"
        if "avx512_bf16" in flags
        else "no native bf16"
    )
    return f"{name} ({os.cpu_count()} cores, {bf16}), {torch.get_num_threads()} torch thread(s)"


def write_card(args, state: dict, model) -> None:
    """Evaluate the exported model next to bicubic and write the Markdown card people read."""
    from sr_studio.evaluation import (
        BENCHMARK_SETS,
        bicubic_upscaler,
        evaluate_set,
        markdown_table,
        model_upscaler,
    )

    scale = args.scale
    ours = [
        evaluate_set(model_upscaler(model), scale, args.datasets, name) for name in BENCHMARK_SETS
    ]
    bicubic = [
        evaluate_set(bicubic_upscaler(scale), scale, args.datasets, name) for name in BENCHMARK_SETS
    ]
    table = markdown_table(
        [(f"this model (step {state['step']})", scale, ours), ("bicubic (Pillow)", scale, bicubic)]
    )
    labels = [r.name for r in ours]
    published = PUBLISHED_SPAN[scale]
    targets = TARGETS[scale]
    comparison = [
        "| | " + " | ".join(labels) + " |",
        "|" + " --- |" * (len(labels) + 1),
        "| this model | " + " | ".join(f"{r.psnr:.2f}" for r in ours) + " |",
        "| bicubic (Pillow) | " + " | ".join(f"{r.psnr:.2f}" for r in bicubic) + " |",
        "| SPAN ch48, published (paper; Urban100 = all 100 images) | "
        + " | ".join(f"{v:.2f}" for v in published)
        + " |",
        "| project target | " + " | ".join(f"{v:.1f}" for v in targets) + " |",
    ]
    run_args = state.get("args", {})
    init = run_args.get("init_body", "None")
    continued = run_args.get("init_weights", "None")
    precision = (
        "bfloat16 autocast on the CPU (last conv in float32)"
        if run_args.get("amp", "bf16") == "bf16"
        else "float32 (this stage ran on a CPU without native bfloat16)"
    )
    minutes = state.get("prior_minutes", 0.0) + state["elapsed"] / 60
    patch = int(run_args.get("lr_patch", 48))
    loss_name = (
        "MSE (L2; a PSNR-oriented fine-tuning stage after the L1 stages)"
        if run_args.get("loss", "l1") == "mse"
        else "L1"
    )
    if continued != "None":
        start = (
            f"as a warm restart from the earlier export `{continued}` (step "
            f"{state.get('first_step', 0)}, "
            f"{state.get('prior_minutes', 0.0):.0f} training minutes; fresh Adam state, new "
            "warm-up and cosine; "
            "the curve below includes the earlier stage)"
        )
        if scale != 2:
            start += "; that stage had started from the body of the x2 model"
    elif init == "None":
        start = "from scratch (image routed through at start, see tools/train_span.py)"
    else:
        start = f"from the body of `{init}` (the x2 run)"
    resume = (
        f"nice -n 10 .venv/bin/python tools/train_span.py --scale {scale} --run "
        f"{args.run.as_posix()}"
        + ("" if init == "None" else f" --init-body {init}")
        + ("" if continued == "None" else f" --init-weights {continued}")
        + " --budget-minutes MINUTES"
    )
    text = f"""# SPAN x{scale}: SR Studio's bundled default

- **id**: bundled-span-x{scale}
- **arch**: SPAN
- **scale**: {scale}
- **license**: Apache-2.0

SPAN (Swift Parameter-free Attention Network, Wan et al. 2024), 48 feature channels, in the official
state-dict layout (`conv_1`, `block_1..6` with `c1_r..c3_r` Conv3XC chains, `conv_cat`, `conv_2`,
`upsampler.0`); the fused `eval_conv` kernels in the file are exactly what fusing its `sk`/`conv` \
chains
gives, so any tool that reads official SPAN checkpoints can load it. float32, \
{args.export.stat().st_size / 1e6:.1f} MB.

## Training

- Data: the 76 training photographs of `train/photos` in the shared datasets (every 20th of the 80,
  sorted by name, held out for the validation curve). No benchmark image was used.
- Degradation: Pillow BICUBIC downscale by {scale} of the whole photo (the evaluation's protocol);
  random {patch}x{patch} LR crops with their {patch * scale}x{patch * scale} HR crops, flips and \
90-degree rotations.
- {loss_name} loss, Adam (betas 0.9, 0.99), learning rate {run_args.get("lr", "?")} with \
{run_args.get("warmup_steps", "?")}-step warm-up and cosine decay
  over {run_args.get("budget_minutes", "?")} training minutes, batch {run_args.get("batch", "?")}, \
{precision},
  EMA of the weights (0.999): the EMA weights are exported.
- Started {start}. The 3x3 convolutions were trained directly in their fused form (`--conv-mode
  fused`, ~2.5x more steps per CPU-second than the 1x1-3x3-1x1 chains); the exported chains are the
  identity embedding of the trained kernels.
- **Steps: {state["step"]}** (batch {run_args.get("batch", "?")}), **{minutes:.0f} minutes** of \
training on a shared 2-core CPU (no GPU),
  one torch thread, `nice -n 10`.

## Measured quality (PSNR in dB on the Y channel)

Protocol of the HAT and SPAN papers: HR cropped to a multiple of {scale}, LR by Pillow BICUBIC \
downscale
(the papers use MATLAB `imresize`; Pillow lands within a few hundredths of a dB on bicubic), model \
run
whole-image in float32 on the CPU, output clamped and rounded to 8 bits, BT.601 Y, {scale} px \
shaved,
SSIM with the 11x11 Gaussian window (sigma 1.5). Only the first 50 Urban100 images are available; \
the
published figures are from the paper and cover all 100.

{chr(10).join(comparison)}

PSNR / SSIM and time (from `python tools/evaluate.py resources/models/span-x{scale}.safetensors \
bicubic`):

{table}

## Learning curve (EMA weights, held-out training photos, 128x128 LR centre crops)

{curve_table(args.run / "log.csv")}

## Reproduce / continue

The run state (model, EMA, optimizer, step, elapsed time, RNG) is `{args.run.as_posix()}/last.pt` \
(gitignored,
~21 MB). With it in place, continue training with

    {resume}

(a larger `--budget-minutes` than the {run_args.get("budget_minutes", "?")} used restarts the \
cosine from where that
fraction of the new budget lies), then export, evaluate and rewrite this card with

    .venv/bin/python tools/train_span.py --scale {scale} --run {args.run.as_posix()} --export \
resources/models/span-x{scale}.safetensors --card resources/models/span-x{scale}.md
"""
    args.card.write_text(text, encoding="utf-8")
    print(table)


# ---------------------------------------------------------------------------- schedule / checkpoint


def continue_from_export(model: SPAN, args) -> tuple[int, float]:
    """Start from a trained model: its weights (model and EMA) and, for our own exports, their step
    count and training minutes. Any SPAN checkpoint of this width and scale works (the published
    .pth files too: they start at step 0).

    The optimizer state of the run that made it is not in the file, so Adam starts afresh, with a
    new warm-up and cosine (a warm restart)."""
    from sr_studio.checkpoint import read_state_dict

    if args.conv_mode != "fused":
        raise SystemExit(
            "--init-weights continues fused-mode training only (exports keep trained kernels in "
            "eval_conv)"
        )
    metadata = {}
    if args.init_weights.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(args.init_weights), "pt") as handle:
            metadata = handle.metadata() or {}
    if int(metadata.get("scale", args.scale)) != args.scale:
        raise SystemExit(f"{args.init_weights}: a x{metadata['scale']} model, not x{args.scale}")
    weights = read_state_dict(args.init_weights)
    width = int(weights["conv_1.eval_conv.weight"].shape[0])
    channels = int(model.state_dict()["conv_1.eval_conv.weight"].shape[0])
    if width == channels:
        model.load_state_dict(weights, strict=True)
        model.fuse()  # training runs on eval_conv: start it from the file's chains
    elif width < channels:
        source = SPAN(feature_channels=width, upscale=args.scale)
        source.load_state_dict(weights, strict=True)
        source.fuse()
        model.fuse()
        widen_fused(model, source, torch.Generator().manual_seed(args.seed))
        print(f"widened {args.init_weights} from {width} to {channels} channels")
    else:
        raise SystemExit(f"{args.init_weights}: {width} channels, more than --channels {channels}")
    minutes = (
        float(metadata["training_minutes"])
        if "training_minutes" in metadata
        else args.prior_minutes
    )
    if minutes is None:
        if metadata:
            raise SystemExit(
                f"{args.init_weights}: no training_minutes in its metadata; pass --prior-minutes"
            )
        minutes = 0.0  # a published checkpoint: our training starts here
    step = int(metadata.get("step", 0))
    print(f"continuing from {args.init_weights} (step {step}, {minutes:.0f} min trained)")
    return step, minutes


FUSED_PREFIXES = ("conv_cat.", "upsampler.")
# New channels' random weights, as a share of the source kernels' spread: at 1.0 their activations
# compound through the six blocks to ~700x the old channels'; at 0.05 they match (ch48 -> ch64).
NEW_CHANNEL_SCALE = 0.05


def widen_fused(target: SPAN, source: SPAN, generator: torch.Generator) -> None:
    """Start a wider SPAN from a narrower one without changing its output (function-preserving
    widening): the source's fused kernels fill the first channels, weights from the new channels
    into the old ones (and into the upsampler) are zero, and the new channels get random weights of
    the source's scale, so they compute features from the first step and gradients reach them.

    The photo model's gap looked like capacity (a run without clean crops gained nothing), so the
    published ch48 grows into a ch64 that starts exactly where it is and learns with room to spare.
    """
    wide, narrow = target.state_dict(), source.state_dict()
    c_source = int(narrow["conv_1.eval_conv.weight"].shape[0])
    c_target = int(wide["conv_1.eval_conv.weight"].shape[0])
    with torch.no_grad():
        for name, old in narrow.items():
            if ".eval_conv." not in name and not name.startswith(FUSED_PREFIXES):
                continue
            new = torch.zeros_like(wide[name])
            widen_out = not name.startswith("upsampler.")
            if widen_out:  # the new channels' own weights and biases: random, the source's scale
                spread = float(old.float().std()) if old.numel() > 1 else 0.0
                fresh = torch.randn(new.shape, generator=generator) * spread * NEW_CHANNEL_SCALE
                new[c_source:] = fresh[c_source:].to(new.dtype)
            out = slice(0, old.shape[0])
            if old.dim() == 1:
                new[out] = old
            elif name.startswith("conv_1."):  # reads the image: no new inputs
                new[out] = old
            elif name.startswith("conv_cat."):  # reads four C-channel groups side by side
                for group in range(4):
                    new[out, group * c_target : group * c_target + c_source] = old[
                        :, group * c_source : (group + 1) * c_source
                    ]
                    new[out, group * c_target + c_source : (group + 1) * c_target] = 0
            else:
                new[out, :c_source] = old
                new[out, c_source:] = 0
            wide[name] = new
    target.load_state_dict(wide)


def compact_state(state_dict: dict, conv_mode: str) -> dict:
    """The tensors a run needs to resume: in fused mode the Conv3XC chains are never read (they are
    rewritten from eval_conv on export), so they stay out and the run state fits in the
    repository."""
    if conv_mode != "fused":
        return state_dict
    return {k: v for k, v in state_dict.items() if ".sk." not in k and ".conv." not in k}


def learning_rate(args, progress: float, step: int) -> float:
    warm = min(1.0, (step + 1) / args.warmup_steps)
    progress = min(1.0, progress)
    floor = args.lr * args.lr_floor
    return warm * (floor + (args.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def save_atomically(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), required=True)
    parser.add_argument("--run", type=Path, required=True, help="run folder: last.pt, log.csv")
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--conv-mode", choices=("fused", "reparam"), default="fused")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr-patch", type=int, default=48, help="LR crop size")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument(
        "--lr-floor", type=float, default=0.02, help="final LR as a fraction of --lr"
    )
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument(
        "--budget-minutes", type=float, default=None, help="cosine decay over this training time"
    )
    parser.add_argument(
        "--total-steps", type=int, default=20000, help="cosine length when no budget is given"
    )
    parser.add_argument(
        "--stop-minutes",
        type=float,
        default=None,
        help="stop (and checkpoint) after this much time in this process",
    )
    parser.add_argument(
        "--loss",
        choices=("l1", "mse"),
        default="l1",
        help="mse for a final fine-tuning stage: it optimises PSNR directly (SPAN paper's second "
        "stage)",
    )
    parser.add_argument(
        "--degradation",
        choices=("bicubic", "camera", "camera-jpeg", "real-camera", "photo-mix"),
        default="bicubic",
        help="camera: a random blur / resize / noise / JPEG recipe per crop "
        "(sr_studio.degradation), each step skipped now and then, 40%% re-saved; camera-jpeg: "
        "every degraded crop a camera JPEG (blur, downscale, noise and JPEG, 10%% re-saved); "
        "real-camera: the degradation measured on real camera LR/HR pairs (optical blur, box or "
        "bicubic downscale, the camera's sharpening, low sensor noise, a camera JPEG); photo-mix: "
        "half real-camera, half camera-jpeg (the photo models' training)",
    )
    parser.add_argument(
        "--photo-folders",
        nargs="+",
        default=["train/photos"],
        metavar="FOLDER",
        help="training photo folders under --datasets (default train/photos; the photo models: "
        "train/photos train/varied); every 20th photo of each is held out",
    )
    parser.add_argument(
        "--clean-teacher",
        type=Path,
        default=None,
        help="with a camera degradation: a model (the published weights) whose output on the clean "
        "crops is a second target, so that the clean behaviour it learned from a far larger "
        "dataset is not forgotten",
    )
    parser.add_argument(
        "--teacher-weight",
        type=float,
        default=1.0,
        help="weight of the --clean-teacher term against the ground-truth loss on clean crops",
    )
    parser.add_argument(
        "--clean-share",
        type=float,
        default=0.2,
        help="with --degradation camera: share of crops given the clean bicubic protocol only",
    )
    parser.add_argument(
        "--smaller-copies",
        type=float,
        nargs="*",
        default=[],
        metavar="FRACTION",
        help="also train on each photo resized to these fractions of its size (e.g. 0.75 0.5): "
        "denser detail and cleaner targets from the same photos",
    )
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--amp", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; on a shared 2-core machine 1 thread does 5x more steps per CPU-second "
        "than 2",
    )
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0)
    parser.add_argument("--validate-every", type=int, default=250)
    parser.add_argument(
        "--init-body",
        type=Path,
        default=None,
        help="a checkpoint whose body (all but the upsampler) starts this run",
    )
    parser.add_argument(
        "--init-weights",
        type=Path,
        default=None,
        help="an exported .safetensors of the same scale to continue from (fresh optimizer, new "
        "warm-up and cosine)",
    )
    parser.add_argument(
        "--prior-minutes",
        type=float,
        default=None,
        help="with --init-weights: training minutes already in that file, when its metadata lacks "
        "them",
    )
    parser.add_argument(
        "--channels",
        type=int,
        default=48,
        help="feature channels of a new run (a run resumes at its own width); wider than "
        "--init-weights: widened from it without changing its output",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--export",
        type=Path,
        default=None,
        help="write the EMA weights of --run as .safetensors and exit",
    )
    parser.add_argument(
        "--card",
        type=Path,
        default=None,
        help="with --export: evaluate the export and write its model card",
    )
    parser.add_argument(
        "--export-strength",
        type=float,
        default=1.0,
        metavar="F",
        help="with --export: write the weights F of the way from the model the run started from "
        "(--compare-with) to the trained EMA, as the cleanup strength blends them "
        "(sr_studio/model_blending.py; weight-space interpolation as in WiSE-FT); 1 (default) "
        "writes the EMA itself",
    )
    parser.add_argument(
        "--card-notes",
        type=Path,
        default=None,
        help="with --card for a camera run: Markdown bullets about the run's stages, put in the "
        "card",
    )
    parser.add_argument(
        "--compare-with",
        type=Path,
        default=None,
        help="with --card for a camera run: the model it started from, measured beside it "
        "(default: the bundled published SPAN of the scale)",
    )
    parser.add_argument(
        "--benchmark-steps",
        type=int,
        default=0,
        help="time this many steps and exit (no checkpoint)",
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    checkpoint_path = args.run / "last.pt"

    state = torch.load(checkpoint_path, weights_only=False) if checkpoint_path.exists() else None
    if state is not None:
        args.conv_mode = state["conv_mode"]  # a run keeps the mode it started with
        args.channels = int(state["ema"]["conv_1.eval_conv.weight"].shape[0])  # and its width
    model = SPAN(feature_channels=args.channels, upscale=args.scale)

    if args.export is not None:
        if state is None:
            raise SystemExit(f"{checkpoint_path}: no checkpoint to export")
        ema = SPAN(feature_channels=args.channels, upscale=args.scale)
        ema.load_state_dict(state["ema"], strict=args.conv_mode != "fused")
        ema.eval()
        if args.conv_mode == "reparam":
            ema.fuse()
        from safetensors.torch import save_file

        tensors = exportable_state_dict(ema, args.conv_mode)
        exported: torch.nn.Module = ema  # what the file must run as
        if args.export_strength != 1.0:
            exported, tensors = blended_export(tensors, args)
        args.export.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.export.with_name(args.export.name + ".tmp")
        total_minutes = state.get("prior_minutes", 0.0) + state["elapsed"] / 60
        save_file(
            tensors,
            str(tmp),
            metadata={
                "arch": "SPAN",
                "scale": str(args.scale),
                "step": str(state["step"]),
                "training_minutes": f"{total_minutes:.1f}",
                "export_strength": f"{args.export_strength:g}",
            },
        )
        os.replace(tmp, args.export)
        from sr_studio.model_loading import load_model

        check = load_model(args.export)
        x = torch.rand(1, 3, 24, 20)
        with torch.no_grad():
            difference = (check(x) - exported(x)).abs().max().item()
        print(
            f"exported step {state['step']} ({state['elapsed'] / 60:.1f} min) to {args.export}; "
            f"reload max diff {difference:.2e}"
        )
        if difference >= 1e-4:
            return 1
        if args.card is not None:
            if (
                args.degradation != "bicubic"
                or state.get("args", {}).get("degradation", "bicubic") != "bicubic"
            ):
                write_photo_card(args, state, check)
            else:
                write_card(args, state, check)
        return 0

    rng = np.random.default_rng(args.seed)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    first_step, prior_minutes = 0, 0.0
    if state is None:
        if args.init_weights is not None:
            first_step, prior_minutes = continue_from_export(model, args)
        elif args.init_body is not None:
            source = torch.load(args.init_body, weights_only=False)
            body = {k: v for k, v in source["ema"].items() if not k.startswith("upsampler.")}
            missing, unexpected = model.load_state_dict(body, strict=False)
            assert not unexpected and all(k.startswith("upsampler.") for k in missing), (
                missing,
                unexpected,
            )
            if source["conv_mode"] != args.conv_mode:
                raise SystemExit("--init-body checkpoint was trained in another --conv-mode")
            if args.scale % source["scale"] == 0:
                upsampler_from_smaller(model, source["ema"], source["scale"])
            print(f"body initialised from {args.init_body} (step {source['step']})")
        elif args.conv_mode == "fused":
            initialise_fused(model)
    set_conv_mode(model, args.conv_mode)
    ema = copy.deepcopy(model).requires_grad_(False)
    ema.eval()
    optimizer = torch.optim.Adam(trainable(model), lr=args.lr, betas=(0.9, 0.99))
    step, elapsed = first_step, 0.0
    if state is not None:
        model.load_state_dict(state["model"], strict=args.conv_mode != "fused")
        ema.load_state_dict(state["ema"], strict=args.conv_mode != "fused")
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed"]
        first_step, prior_minutes = state.get("first_step", 0), state.get("prior_minutes", 0.0)
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        print(f"resumed {checkpoint_path} at step {step} ({elapsed / 60:.1f} min trained)")
    set_conv_mode(model, args.conv_mode)
    ema.eval()
    fp32_upsampler(model)
    model.to(
        memory_format=torch.channels_last
    )  # ~1.5x faster bf16 convolutions on the CPU (oneDNN)

    started = time.time()
    train_pairs, validation_pairs, validation_names = [], [], []
    for folder in args.photo_folders:
        train, validation, names = load_pairs(
            args.datasets / folder, args.scale, tuple(args.smaller_copies)
        )
        train_pairs += train
        validation_pairs += validation
        validation_names += names
    print(
        f"{len(train_pairs)} training photos, {len(validation_pairs)} held out "
        f"({', '.join(validation_names)}); "
        f"loaded in {time.time() - started:.1f}s",
        flush=True,
    )

    def evaluation_model():
        if args.conv_mode == "reparam":
            fused = copy.deepcopy(ema)
            fused.fuse()
            return fused
        return ema

    def validation_psnrs(evaluated) -> tuple[float, float]:
        """(clean, camera-degraded) held-out PSNR."""
        return (
            validation_psnr(evaluated, validation_pairs, args.scale),
            validation_psnr(evaluated, validation_pairs, args.scale, degraded=True),
        )

    def checkpoint():
        save_atomically(
            {
                "model": compact_state(model.state_dict(), args.conv_mode),
                "ema": compact_state(ema.state_dict(), args.conv_mode),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "elapsed": elapsed,
                "first_step": first_step,
                "prior_minutes": prior_minutes,
                "scale": args.scale,
                "conv_mode": args.conv_mode,
                "args": {k: str(v) for k, v in vars(args).items()},
                "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "python_rng": random.getstate(),
            },
            checkpoint_path,
        )

    stop = {"now": False}

    def request_stop(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    log_path = args.run / "log.csv"
    new_log = not log_path.exists()
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(
            ["step", "elapsed_min", "lr", "loss", "val_psnr", "sec_per_step", "val_psnr_degraded"]
        )
    if step == first_step and elapsed == 0 and not args.benchmark_steps:
        clean, degraded = validation_psnrs(evaluation_model())
        writer.writerow(
            [step, f"{prior_minutes:.2f}", 0.0, "", f"{clean:.3f}", "", f"{degraded:.3f}"]
        )
        log.flush()

    amp = args.amp == "bf16"
    teacher = None
    if args.clean_teacher is not None:
        from sr_studio.model_loading import load_model

        teacher = load_model(args.clean_teacher).network.eval().requires_grad_(False)
        print(f"clean crops also taught by {args.clean_teacher}", flush=True)
    process_start = time.time()
    last_checkpoint = time.time()
    losses, window_start = [], time.time()
    tick = time.time()
    benchmark_start = None
    while not stop["now"]:
        progress = (
            elapsed / (args.budget_minutes * 60) if args.budget_minutes else step / args.total_steps
        )
        lr = learning_rate(args, progress, step - first_step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        clean_mask = None
        if args.degradation != "bicubic":
            lr_batch, hr_batch, clean_mask = camera_batch(
                train_pairs,
                args.batch,
                args.lr_patch,
                args.scale,
                rng,
                args.clean_share,
                args.degradation,
            )
        else:
            lr_batch, hr_batch = random_batch(
                train_pairs, args.batch, args.lr_patch, args.scale, rng
            )
        lr_batch = lr_batch.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(lr_batch)
        pixel_loss = F.mse_loss if args.loss == "mse" else F.l1_loss
        loss = pixel_loss(out.float(), hr_batch)
        if teacher is not None and clean_mask is not None and clean_mask.any():
            with torch.no_grad():
                taught = teacher(lr_batch[clean_mask].contiguous()).float()
            # Scaled by the clean crops' share of the batch, like their share of the GT term.
            share = clean_mask.float().mean()
            loss = loss + args.teacher_weight * share * pixel_loss(out[clean_mask].float(), taught)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
                if p.requires_grad:
                    p_ema.lerp_(p, 1 - decay)
        now = time.time()
        elapsed += now - tick
        tick = now
        losses.append(loss.item())
        if args.benchmark_steps:
            if step - first_step == 2:
                benchmark_start = time.time()
            if step - first_step == args.benchmark_steps + 2:
                print(
                    f"{args.conv_mode} {args.amp} x{args.scale}: "
                    f"{(time.time() - benchmark_start) / args.benchmark_steps:.3f} s/step"
                )
                return 0
            continue
        if step % args.validate_every == 0:
            psnr, degraded = validation_psnrs(evaluation_model())
            seconds = (time.time() - window_start) / len(losses)
            writer.writerow(
                [
                    step,
                    f"{prior_minutes + elapsed / 60:.2f}",
                    f"{lr:.3e}",
                    f"{np.mean(losses):.5f}",
                    f"{psnr:.3f}",
                    f"{seconds:.3f}",
                    f"{degraded:.3f}",
                ]
            )
            log.flush()
            print(
                f"step {step} {elapsed / 60:.1f} min lr {lr:.2e} loss {np.mean(losses):.5f} val "
                f"{psnr:.3f} dB "
                f"degraded {degraded:.3f} dB {seconds:.2f} s/step",
                flush=True,
            )
            losses, window_start = [], time.time()
            tick = time.time()  # validation time does not count as training time
        if time.time() - last_checkpoint > args.checkpoint_minutes * 60:
            checkpoint()
            last_checkpoint = time.time()
            tick = time.time()
        if args.stop_minutes and time.time() - process_start > args.stop_minutes * 60:
            break
        if progress >= 1.0 and step % args.validate_every == 0:
            # The schedule is over (its last validation is logged); going on at the floor learning
            # rate only burns CPU. A larger --budget-minutes re-opens it.
            print("the learning-rate schedule is complete", flush=True)
            break
    checkpoint()
    print(f"stopped at step {step}; checkpoint {checkpoint_path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
