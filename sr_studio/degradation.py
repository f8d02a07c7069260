"""Camera-like degradations of a clean photo: what separates a real JPEG from a bicubic downscale.

A camera photo has passed through a lens and a demosaicing filter (blur), a sensor (noise, in colour
and in luma) and an encoder (JPEG blocks), and often through a resize or a re-save on the way.
Models trained only on clean bicubic downscales sharpen all of that along with the detail. This
module makes such degradations reproducibly, for two users:

- `tools/train_span.py --degradation camera` draws a random recipe per training crop
  (`camera_recipe`), in the family of Real-ESRGAN's second-order pipeline but kept to what cameras
  and phones really do, because the photo model is trained for fidelity, not for a generated look;
- `sr_studio.evaluation`'s degraded benchmark draws one fixed, seeded recipe per benchmark image
  (`benchmark_recipe`), so that every model is measured on exactly the same degraded inputs.

Images are float32 tensors (1, 3, H, W) in 0..1; a recipe is plain data (a list of `Step`s), so it
can be printed, stored and replayed.
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

RESIZE_METHODS = ("bicubic", "bilinear", "area")
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Step:
    """One operation: `kind` is blur, resize, gaussian_noise, poisson_noise, sharpen or jpeg;
    `params` its settings."""

    kind: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        settings = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items()
        )
        return f"{self.kind}({settings})"


# ----------------------------------------------------------------------------- operations


def gaussian_kernel(
    sigma_x: float, sigma_y: float | None = None, angle: float = 0.0, size: int | None = None
) -> torch.Tensor:
    """A normalised 2-D Gaussian, anisotropic if sigma_y != sigma_x, rotated by `angle` radians."""
    sigma_y = sigma_x if sigma_y is None else sigma_y
    if size is None:
        size = 2 * math.ceil(3 * max(sigma_x, sigma_y)) + 1
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")
    cos, sin = math.cos(angle), math.sin(angle)
    u, v = cos * x + sin * y, -sin * x + cos * y
    kernel = torch.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return (kernel / kernel.sum()).float()


def blur(
    image: torch.Tensor, sigma_x: float, sigma_y: float | None = None, angle: float = 0.0
) -> torch.Tensor:
    kernel = gaussian_kernel(sigma_x, sigma_y, angle)
    pad = kernel.shape[-1] // 2
    channels = image.shape[1]
    padded = F.pad(
        image, (pad, pad, pad, pad), mode="reflect" if min(image.shape[-2:]) > pad else "replicate"
    )
    return F.conv2d(padded, kernel.expand(channels, 1, *kernel.shape), groups=channels)


def resize(image: torch.Tensor, height: int, width: int, method: str = "bicubic") -> torch.Tensor:
    """Resize, antialiased on downscales (as cameras and editors do); `area` is a box filter."""
    if (height, width) == tuple(image.shape[-2:]):
        return image
    if method == "area":
        if height <= image.shape[-2] and width <= image.shape[-1]:
            return F.interpolate(image, size=(height, width), mode="area")
        method = "bilinear"  # area has no meaning for an upscale
    return F.interpolate(
        image, size=(height, width), mode=method, align_corners=False, antialias=True
    ).clamp_(0, 1)


def gaussian_noise(
    image: torch.Tensor, sigma: float, grey: bool, generator: torch.Generator
) -> torch.Tensor:
    """Additive noise of `sigma` (0..255 scale); `grey`: the same noise in every channel (luma)."""
    shape = (image.shape[0], 1, *image.shape[2:]) if grey else image.shape
    noise = torch.randn(shape, generator=generator) * (sigma / 255.0)
    return (image + noise).clamp_(0, 1)


def poisson_noise(
    image: torch.Tensor, scale: float, grey: bool, generator: torch.Generator
) -> torch.Tensor:
    """Shot noise: about 255 x value / scale photons per pixel, so brighter is cleaner.

    A larger `scale` means fewer photons (a smaller sensor or a higher ISO): a mid-grey pixel gets a
    noise sigma of sqrt(127.5 x scale) levels, 11.3 at scale 1.
    """
    photons_per_unit = 255.0 / scale
    if grey:
        luma = (
            (image * torch.tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)).sum(1, keepdim=True).clamp(0, 1)
        )
        counts = torch.poisson(luma * photons_per_unit, generator=generator)
        return (image + counts / photons_per_unit - luma).clamp_(0, 1)
    counts = torch.poisson(image.clamp(0, 1) * photons_per_unit, generator=generator)
    return (counts / photons_per_unit).clamp_(0, 1)


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Round-trip through Pillow's libjpeg at `quality` (4:2:0 chroma, as cameras and phones do)."""
    out = []
    for single in image:
        pixels = (
            single.clamp(0, 1)
            .mul(255)
            .round()
            .to(torch.uint8)
            .permute(1, 2, 0)
            .contiguous()
            .numpy()
        )
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=int(quality), subsampling=2)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            array = np.asarray(decoded.convert("RGB"), dtype=np.uint8)
        out.append(torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0))
    return torch.stack(out)


def sharpen(image: torch.Tensor, amount: float, sigma: float) -> torch.Tensor:
    """Unsharp mask, as a camera's or phone's image processor applies it: the halos it leaves
    around edges are part of what a real JPEG looks like."""
    return (image + amount * (image - blur(image, sigma))).clamp_(0, 1)


def apply(image: torch.Tensor, recipe: list[Step], seed: int) -> torch.Tensor:
    """Run `recipe` on `image` ((N, 3, H, W), 0..1), reproducibly: noise is drawn from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    for step in recipe:
        p = step.params
        if step.kind == "blur":
            image = blur(image, p["sigma_x"], p.get("sigma_y"), p.get("angle", 0.0))
        elif step.kind == "resize":
            image = resize(image, p["height"], p["width"], p.get("method", "bicubic"))
        elif step.kind == "gaussian_noise":
            image = gaussian_noise(image, p["sigma"], p.get("grey", False), generator)
        elif step.kind == "poisson_noise":
            image = poisson_noise(image, p["scale"], p.get("grey", False), generator)
        elif step.kind == "jpeg":
            image = jpeg(image, p["quality"])
        elif step.kind == "sharpen":
            image = sharpen(image, p["amount"], p["sigma"])
        else:
            raise ValueError(f"unknown degradation step {step.kind!r}")
    return image


# ----------------------------------------------------------------------------- recipes


def _blur_step(rng: np.random.Generator, low: float, high: float, anisotropic_share: float) -> Step:
    sigma_x = float(rng.uniform(low, high))
    if rng.random() < anisotropic_share:
        sigma_y = float(rng.uniform(low, high))
        return Step(
            "blur",
            {"sigma_x": sigma_x, "sigma_y": sigma_y, "angle": float(rng.uniform(0, math.pi))},
        )
    return Step("blur", {"sigma_x": sigma_x})


def _noise_step(rng: np.random.Generator, max_sigma: float) -> Step:
    grey = bool(rng.random() < 0.4)
    if rng.random() < 0.6:
        return Step("gaussian_noise", {"sigma": float(rng.uniform(1.0, max_sigma)), "grey": grey})
    # Mid-grey sigma sqrt(127.5 x scale): about 2..max_sigma levels, as for the Gaussian noise.
    return Step(
        "poisson_noise", {"scale": float(rng.uniform(0.03, max_sigma**2 / 127.5)), "grey": grey}
    )


def _clean_protocol(lr_height: int, lr_width: int) -> list[Step]:
    """The papers' clean LR: a bicubic downscale alone."""
    return [Step("resize", {"height": lr_height, "width": lr_width, "method": "bicubic"})]


def is_clean_protocol(recipe: list[Step]) -> bool:
    """Whether a recipe is a resize alone: the input a clean source gives."""
    return len(recipe) == 1 and recipe[0].kind == "resize"


def _intermediate_size(rng: np.random.Generator, lr_height: int, lr_width: int) -> tuple[int, int]:
    """The size of a re-saved photo on its way to the LR: 1-2x the LR size."""
    factor = float(rng.uniform(1.0, 2.0))
    return max(lr_height, round(lr_height * factor)), max(lr_width, round(lr_width * factor))


def camera_recipe(
    hr_height: int, hr_width: int, scale: int, rng: np.random.Generator, clean_share: float = 0.2
) -> list[Step]:
    """A random degradation from an HR crop to its LR input (exactly HR / scale in size).

    - `clean_share` of the recipes are the clean protocol (bicubic downscale alone), so that clean
      sources are not washed out;
    - otherwise first order (lens blur, resize to the LR size by a random method, sensor noise,
      JPEG) or, in 40% of the cases, second order: the same at an intermediate size, then a milder
      blur, resize, noise and JPEG on the way to the LR size (a photo resized and saved again).
    Every operation but the resize is skipped now and then, so that each appears alone as well.
    """
    lr_height, lr_width = hr_height // scale, hr_width // scale
    if rng.random() < clean_share:
        return _clean_protocol(lr_height, lr_width)
    recipe: list[Step] = []
    second_order = rng.random() < 0.4
    if rng.random() < 0.9:
        recipe.append(_blur_step(rng, 0.2, 2.5, anisotropic_share=0.4))
    if second_order:
        height, width = _intermediate_size(rng, lr_height, lr_width)
        recipe.append(
            Step(
                "resize",
                {"height": height, "width": width, "method": str(rng.choice(RESIZE_METHODS))},
            )
        )
        if rng.random() < 0.8:
            recipe.append(_noise_step(rng, max_sigma=10.0))
        if rng.random() < 0.7:
            recipe.append(Step("jpeg", {"quality": int(rng.integers(60, 96))}))
        if rng.random() < 0.5:
            recipe.append(_blur_step(rng, 0.2, 1.0, anisotropic_share=0.3))
    method = str(rng.choice(RESIZE_METHODS)) if rng.random() < 0.7 else "bicubic"
    recipe.append(Step("resize", {"height": lr_height, "width": lr_width, "method": method}))
    if rng.random() < 0.85:
        recipe.append(_noise_step(rng, max_sigma=12.0 if not second_order else 6.0))
    if rng.random() < 0.85:
        recipe.append(Step("jpeg", {"quality": int(rng.integers(40, 96))}))
    return recipe


def camera_jpeg_recipe(
    hr_height: int, hr_width: int, scale: int, rng: np.random.Generator, clean_share: float = 0.3
) -> list[Step]:
    """A random degradation of what a camera JPEG always went through, from an HR crop to its LR.

    `camera_recipe` skips each operation now and then and re-saves 40% of its crops (second
    order). Half of its degraded crops are then something a camera never makes, and a small network
    spends its capacity on them; worse, a blurred crop with no noise and no JPEG looks like a clean
    source, which teaches the model to over-sharpen clean ones. Here every degraded crop is a camera
    JPEG: lens blur (mostly isotropic), a downscale (mostly bicubic), sensor noise and JPEG, each
    always present, with a re-saved photo (second order) only 10% of the time. `clean_share` of the
    recipes are the clean protocol, as in `camera_recipe`.
    """
    lr_height, lr_width = hr_height // scale, hr_width // scale
    if rng.random() < clean_share:
        return _clean_protocol(lr_height, lr_width)
    recipe = [_blur_step(rng, 0.3, 2.2, anisotropic_share=0.2)]
    if rng.random() < 0.1:
        height, width = _intermediate_size(rng, lr_height, lr_width)
        recipe += [
            Step("resize", {"height": height, "width": width, "method": "bicubic"}),
            _noise_step(rng, max_sigma=6.0),
            Step("jpeg", {"quality": int(rng.integers(70, 96))}),
        ]
    method = "bicubic" if rng.random() < 0.8 else str(rng.choice(("bilinear", "area")))
    recipe.append(Step("resize", {"height": lr_height, "width": lr_width, "method": method}))
    recipe.append(_noise_step(rng, max_sigma=11.0))
    recipe.append(Step("jpeg", {"quality": int(rng.integers(45, 96))}))
    return recipe


def real_camera_recipe(
    hr_height: int, hr_width: int, scale: int, rng: np.random.Generator, clean_share: float = 0.3
) -> list[Step]:
    """A camera's own photo, from an HR crop to its LR, as measured on real LR/HR camera pairs.

    Fitting `blur -> downscale` of the DRealSR dev HR crops to their real LR (benchmarks/RESULTS.md,
    "What real camera LR is") puts a real camera's LR at a Gaussian of about 2 HR px before an
    antialiased downscale: softer than the papers' bicubic, and the same for every camera in the
    set, with no shift between the two. So: an isotropic optical + demosaicing blur of 1.0-2.6 HR px
    (sometimes a little anisotropic), a downscale that integrates like a sensor (box) or like an
    editor (bicubic), the processor's unsharp mask half of the time, a sensor's low noise (shot
    noise plus read noise, in luma after the processor's chroma denoising, or in colour) and a
    camera JPEG, mostly at high quality. `clean_share` of the recipes are the clean protocol.
    """
    lr_height, lr_width = hr_height // scale, hr_width // scale
    if rng.random() < clean_share:
        return _clean_protocol(lr_height, lr_width)
    recipe = [_blur_step(rng, 1.0, 2.6, anisotropic_share=0.2)]
    method = "area" if rng.random() < 0.5 else "bicubic"
    recipe.append(Step("resize", {"height": lr_height, "width": lr_width, "method": method}))
    if rng.random() < 0.5:
        recipe.append(
            Step(
                "sharpen",
                {"amount": float(rng.uniform(0.2, 1.0)), "sigma": float(rng.uniform(0.6, 1.5))},
            )
        )
    grey = bool(rng.random() < 0.5)
    recipe.append(Step("poisson_noise", {"scale": float(rng.uniform(0.002, 0.08)), "grey": grey}))
    recipe.append(Step("gaussian_noise", {"sigma": float(rng.uniform(0.3, 3.0)), "grey": grey}))
    quality = int(rng.integers(75, 99)) if rng.random() < 0.8 else int(rng.integers(50, 75))
    recipe.append(Step("jpeg", {"quality": quality}))
    return recipe


def photo_mix_recipe(
    hr_height: int, hr_width: int, scale: int, rng: np.random.Generator, clean_share: float = 0.2
) -> list[Step]:
    """Half `real_camera_recipe` (a camera's own soft, clean-ish pixels), half
    `camera_jpeg_recipe` (a worn JPEG: more noise, lower quality): the photos the app's Automatic
    choice sends to the photo model, from a good camera's to a phone's. `clean_share` of the
    recipes are the clean protocol."""
    if rng.random() < clean_share:
        return _clean_protocol(hr_height // scale, hr_width // scale)
    make = real_camera_recipe if rng.random() < 0.5 else camera_jpeg_recipe
    return make(hr_height, hr_width, scale, rng, clean_share=0.0)


TRAINING_RECIPES = {
    "camera": camera_recipe,
    "camera-jpeg": camera_jpeg_recipe,
    "real-camera": real_camera_recipe,
    "photo-mix": photo_mix_recipe,
}
# What each recipe does, in words, for the model cards (tools/train_span.py); kept beside the code
# it describes.
TRAINING_RECIPE_TEXT = {
    "camera": (
        "`camera` (`sr_studio.degradation.camera_recipe`), in the family of Real-ESRGAN's "
        "second-order pipeline but kept to what cameras do: lens blur (90%: Gaussian, sigma "
        "0.2-2.5 HR px, 40% anisotropic at a random angle), then either a resize to the LR size "
        "by a random method (bicubic, bilinear or box) or, for 40%, a second order (resize to "
        "1-2x the LR size, noise, JPEG 60-95, a milder blur, then the resize to LR size), then "
        "sensor noise (85%: Gaussian 1-12 levels or Poisson of the same strength, in colour or, "
        "for 40%, in luma) and JPEG (85%: quality 40-95, 4:2:0)"
    ),
    "camera-jpeg": (
        "`camera-jpeg` (`sr_studio.degradation.camera_jpeg_recipe`): every degraded crop is a "
        "camera JPEG: lens blur (Gaussian, sigma 0.3-2.2 HR px, 20% anisotropic), a downscale "
        "(80% bicubic, else bilinear or box), sensor noise (Gaussian 1-11 levels or Poisson of "
        "the same strength, 40% in luma) and JPEG (quality 45-95, 4:2:0), each always present; "
        "10% are re-saved first (a milder noise and JPEG 70-95 at 1-2x the LR size)"
    ),
    "real-camera": (
        "`real-camera` (`sr_studio.degradation.real_camera_recipe`), fitted to what real camera "
        "LR/HR pairs show: optical and demosaicing blur (Gaussian, sigma 1.0-2.6 HR px, 20% "
        "anisotropic), a downscale (box or bicubic, half each), the camera's unsharp mask (50%: "
        "amount 0.2-1.0, radius 0.6-1.5 LR px), low sensor noise (shot noise of scale "
        "0.002-0.08 and read noise of 0.3-3 levels, in luma or in colour) and a camera JPEG "
        "(quality 75-98, or 50-74 for 20%, 4:2:0)"
    ),
    "photo-mix": (
        "`photo-mix` (`sr_studio.degradation.photo_mix_recipe`): each degraded crop is, at even "
        "odds, a `real-camera` crop (a camera's own soft pixels: optical blur 1.0-2.6 HR px, box "
        "or bicubic downscale, the camera's sharpening half of the time, low shot and read "
        "noise, JPEG 75-98 or for 20% 50-74) or a `camera-jpeg` crop (lens blur 0.3-2.2 HR px, "
        "noise 1-11 levels, JPEG 45-95)"
    ),
}


BENCHMARK_SEED = 2024
# One source string per line of the text (long lines in two): its line breaks are kept as they are,
# since the photo model's card quotes the text as is (tools/train_span.py).
BENCHMARK_RECIPE_TEXT = (
    "For each HR image (cropped to a multiple of the scale), with numpy's default_rng seeded by\n"
    "2024 + crc32 of the file name:\n"
    "1. lens blur: isotropic Gaussian on the HR image, sigma uniform in 0.5..2.0 HR pixels "
    "(reflect padding);\n"
    "2. downscale by the scale with antialiased bicubic (torch, antialias=True);\n"
    "3. sensor noise: Gaussian, sigma uniform in 1..10 levels of 255, in colour "
    "(independent per channel) or,\n"
    "   for 40% of the images, in luma (the same in all three channels);\n"
    "4. JPEG at a quality uniform in 50..95 (Pillow / libjpeg, 4:2:0 chroma subsampling), "
    "decoded to 8 bits.\n"
    "The model then enlarges the decoded JPEG and is scored against the clean HR image "
    "(PSNR / SSIM on Y,\n"
    "shave = scale), exactly as in the clean protocol."
)


def benchmark_recipe(
    hr_height: int, hr_width: int, scale: int, name: str
) -> tuple[list[Step], int]:
    """The fixed camera-like degradation of one benchmark image (see BENCHMARK_RECIPE_TEXT) and
    its noise seed."""
    seed = BENCHMARK_SEED + zlib.crc32(name.encode("utf-8"))
    rng = np.random.default_rng(seed)
    recipe = [
        Step("blur", {"sigma_x": float(rng.uniform(0.5, 2.0))}),
        Step(
            "resize",
            {"height": hr_height // scale, "width": hr_width // scale, "method": "bicubic"},
        ),
        Step(
            "gaussian_noise",
            {"sigma": float(rng.uniform(1.0, 10.0)), "grey": bool(rng.random() < 0.4)},
        ),
        Step("jpeg", {"quality": int(rng.integers(50, 96))}),
    ]
    return recipe, seed


def degrade_benchmark_image(hr: np.ndarray, scale: int, name: str) -> np.ndarray:
    """The degraded LR input (uint8 HxWx3) for a benchmark HR image already cropped to a multiple
    of scale."""
    recipe, seed = benchmark_recipe(hr.shape[0], hr.shape[1], scale, name)
    tensor = torch.from_numpy(np.ascontiguousarray(hr)).permute(2, 0, 1)[None].float().div_(255.0)
    lr = apply(tensor, recipe, seed)
    return lr[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
