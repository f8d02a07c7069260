"""Which speed options pay on this CPU, fp32 and bf16 (issue 17): side by side, in one process.

Every option of one group runs in the same process, interleaved round by round (A B C, A B C,
...), and the best of the rounds counts: the machine is shared, so load comes and goes and hits
every option alike. Each option's output is compared with the engine's own fp32 output (PSNR for
SPAN, relative RMS for HAT), so a faster option that changes the picture shows it.

Groups (`--groups`, comma-separated):
  span    SPAN x4 (bundled weights) on crops of a real photo: engine as is (channels-last
          activations), NCHW activations, channels-last weights too, SiLU fused into the convolution
          (oneDNN post-op, eager), prepacked weights, torch.compile (inductor, weights frozen).
  hat     HAT-S x4 (random weights, official layout): SDPA's default choice, its CPU flash kernel
          forced, its math path forced, torch.compile (inductor, not frozen: freezing fails on HAT).
  shapes  Distinct patch shapes the Upscaler runs on a 12 MP photo (what a shape-specialised
          compile would recompile for).
  tiles   SPAN x4 through sr_studio.engine.upscaler.Upscaler on a whole ~0.8 MP photo, fp32 and
          bf16, for several tile sizes.

    .venv/bin/python benchmarks/bench_bf16_options.py [--groups span,hat,shapes,tiles] [--rounds 5]
        [--only REGEX] [--no-compile]
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_models import HAT_S as HAT_S_OPTIONS  # noqa: E402

from sr_studio.archs.hat import HAT  # noqa: E402
from sr_studio.archs.span import network as span_network  # noqa: E402
from sr_studio.engine import heap  # noqa: E402
from sr_studio.engine.devices import cast_model  # noqa: E402
from sr_studio.model_loading import load_model, model_from_state_dict  # noqa: E402

PHOTO = REPO.parent / "shared" / "datasets" / "train" / "photos" / "abbey_sun_asztnlqhlrvirneh.jpg"
SPAN_X4 = REPO / "resources" / "models" / "span-x4.safetensors"
HAT_S = {**HAT_S_OPTIONS, "upscale": 4}  # bench_models's HAT-S, at x4

Run = Callable[[], torch.Tensor]


def photo_pixels() -> np.ndarray:
    from PIL import Image

    if not PHOTO.is_file():
        raise SystemExit(f"{PHOTO}: missing (a real photo from the shared datasets is needed)")
    return np.asarray(Image.open(PHOTO).convert("RGB"))


def crop(side: int) -> torch.Tensor:
    """A centre crop of the photo as a (1, 3, side, side) float32 tensor in 0..1."""
    pixels = photo_pixels()
    top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
    area = pixels[top : top + side, left : left + side].astype(np.float32) / 255.0
    return torch.from_numpy(area).permute(2, 0, 1).unsqueeze(0).contiguous()


def interleaved(runs: dict[str, Run], rounds: int) -> dict[str, float]:
    """Best seconds of each run over `rounds` rounds, the runs taking turns within a round."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for run in runs.values():
            run()  # warm-up (first-call allocations, oneDNN primitive creation)
        for _ in range(rounds):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
    return {name: min(values) for name, values in times.items()}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float().clamp(0, 1) - b.float().clamp(0, 1)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def relative_rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).pow(2).mean().sqrt() / b.float().pow(2).mean().sqrt())


def compiled(model: nn.Module, x: torch.Tensor, freeze: bool = True) -> tuple[Run, float]:
    """torch.compile (inductor, CPU; weights frozen into the graph if `freeze`), and the seconds
    its first call took."""
    import torch._inductor.config as inductor_config

    inductor_config.freezing = freeze
    torch._dynamo.reset()
    compiled_model = torch.compile(model, dynamic=False)
    started = time.perf_counter()
    with torch.inference_mode():
        compiled_model(x)
    return (lambda: compiled_model(x)), time.perf_counter() - started


# -- SPAN ----------------------------------------------------------------------------------


class _TorchWithoutChannelsLast(types.ModuleType):
    """`torch` as SPAN's module sees it, with channels_last the plain layout: forward stays NCHW."""

    def __getattr__(self, name: str) -> object:
        if name == "channels_last":
            return torch.contiguous_format
        return getattr(torch, name)


def span_nchw(model: nn.Module) -> Run:
    def run(x: torch.Tensor) -> torch.Tensor:
        saved = span_network.torch
        span_network.torch = _TorchWithoutChannelsLast("torch")  # type: ignore[assignment]
        try:
            return model(x)
        finally:
            span_network.torch = saved

    return run  # type: ignore[return-value]


def _conv_silu(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """conv then SiLU as one oneDNN convolution with a swish post-op."""
    return torch.ops.mkldnn._convolution_pointwise(
        x,
        conv.weight,
        conv.bias,
        conv.padding,
        conv.stride,
        conv.dilation,
        conv.groups,
        "swish",
        [],
        "",
    )


def _fused_spab_forward(block: nn.Module, x: torch.Tensor, keep_first: bool = True):
    out1 = _conv_silu(block.c1_r.eval_conv, x)
    out2 = _conv_silu(block.c2_r.eval_conv, out1)
    if not keep_first:
        out1 = None
    out3 = block.c3_r(out2)
    del out2
    return torch.sigmoid(out3).sub_(0.5).mul_(out3.add_(x)), out1


def _packed_conv(conv: nn.Conv2d, side: int, unary: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """conv (then `unary`) with its weight reordered once into oneDNN's blocked layout, as
    inductor's weight freezing does, instead of on every call."""
    packed = torch.ops.mkldnn._reorder_convolution_weight(
        conv.weight,
        list(conv.padding),
        list(conv.stride),
        list(conv.dilation),
        conv.groups,
        [1, conv.in_channels, side, side],
    )
    bias, padding, stride, dilation = conv.bias, conv.padding, conv.stride, conv.dilation

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._convolution_pointwise(
            x, packed, bias, padding, stride, dilation, conv.groups, unary, [], ""
        )

    return run


def _packed_spab_forward(block: nn.Module, x: torch.Tensor, keep_first: bool = True):
    out1 = block.packed[0](x)
    out2 = block.packed[1](out1)
    if not keep_first:
        out1 = None
    out3 = block.packed[2](out2)
    del out2
    return torch.sigmoid(out3).sub_(0.5).mul_(out3.add_(x)), out1


def span_packed(model: nn.Module, side: int) -> nn.Module:
    """A copy of `model` whose blocks run prepacked-weight convolutions, SiLU fused (eager)."""
    packed = copy.deepcopy(model)
    for index in range(1, 7):
        block = getattr(packed, f"block_{index}")
        block.packed = [
            _packed_conv(block.c1_r.eval_conv, side, "swish"),
            _packed_conv(block.c2_r.eval_conv, side, "swish"),
            _packed_conv(block.c3_r.eval_conv, side, "none"),
        ]
        block.forward = types.MethodType(_packed_spab_forward, block)
    return packed


def span_fused_silu(model: nn.Module) -> nn.Module:
    """A copy of `model` whose blocks run conv+SiLU as one oneDNN call each."""
    fused = copy.deepcopy(model)
    for index in range(1, 7):
        block = getattr(fused, f"block_{index}")
        block.forward = types.MethodType(_fused_spab_forward, block)
    return fused


def bench_span(sides: list[int], rounds: int, with_compile: bool, only: str = "") -> None:
    print("## SPAN x4 (bundled weights), crops of a real photo")
    for side in sides:
        x32 = crop(side)
        models = {
            p: cast_model(load_model(SPAN_X4).network, torch.device("cpu"), d)
            for p, d in (("fp32", torch.float32), ("bf16", torch.bfloat16))
        }
        runs: dict[str, Run] = {}
        compile_seconds: dict[str, float] = {}
        for precision, model in models.items():
            x = x32.to(model.conv_1.eval_conv.weight.dtype)
            runs[f"{precision} engine (channels-last activations)"] = lambda m=model, x=x: m(x)
            nchw = span_nchw(model)
            runs[f"{precision} NCHW activations"] = lambda r=nchw, x=x: r(x)
            weights_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
            runs[f"{precision} + channels-last weights"] = lambda m=weights_cl, x=x: m(x)
            fused = span_fused_silu(model)
            runs[f"{precision} + conv+SiLU fused (oneDNN)"] = lambda m=fused, x=x: m(x)
            packed = span_packed(model, side)
            runs[f"{precision} + prepacked weights, SiLU fused"] = lambda m=packed, x=x: m(x)
            if with_compile and re.search(only, "torch.compile"):
                run, seconds = compiled(copy.deepcopy(model), x)
                name = f"{precision} torch.compile (inductor, frozen)"
                runs[name], compile_seconds[name] = run, seconds
        runs = {
            name: run for name, run in runs.items() if "engine" in name or re.search(only, name)
        }
        with torch.inference_mode():
            reference = models["fp32"](x32)
            quality = {name: psnr(run(), reference) for name, run in runs.items()}
        best = interleaved(runs, rounds)
        fp32 = best["fp32 engine (channels-last activations)"]
        print(f"\n{side}x{side} crop, best of {rounds} interleaved rounds\n")
        print("| option | s/run | input MP/s | vs fp32 engine | PSNR vs fp32 engine | compile s |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, seconds in best.items():
            print(
                f"| {name} | {seconds:.3f} | {side * side / seconds / 1e6:.3f} | "
                f"{fp32 / seconds:.2f}x | "
                f"{quality[name]:.1f} dB | {compile_seconds.get(name, 0):.0f} |"
            )
        sys.stdout.flush()


# -- HAT -----------------------------------------------------------------------------------


def hat_model(dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(0)
    state = HAT(**HAT_S).state_dict()
    return cast_model(model_from_state_dict(state).network, torch.device("cpu"), dtype)


def with_sdpa(model: nn.Module, backend: object) -> Run:
    from torch.nn.attention import sdpa_kernel

    def run(x: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel(backend):
            return model(x)

    return run  # type: ignore[return-value]


def bench_hat(sides: list[int], rounds: int, with_compile: bool, only: str = "") -> None:
    from torch.nn.attention import SDPBackend

    print("\n## HAT-S x4 (random weights, official layout)")
    for side in sides:
        torch.manual_seed(1)
        x = torch.rand(1, 3, side, side)
        models = {"fp32": hat_model(torch.float32), "bf16": hat_model(torch.bfloat16)}
        runs: dict[str, Run] = {}
        compile_seconds: dict[str, float] = {}
        for precision, model in models.items():
            runs[f"{precision} engine (SDPA default)"] = lambda m=model, x=x: m(x)
            flash = with_sdpa(model, SDPBackend.FLASH_ATTENTION)
            math_path = with_sdpa(model, SDPBackend.MATH)
            runs[f"{precision} SDPA flash forced"] = lambda r=flash, x=x: r(x)
            runs[f"{precision} SDPA math forced"] = lambda r=math_path, x=x: r(x)
            if with_compile and re.search(only, "torch.compile"):
                # Inductor's weight freezing fails on HAT in torch 2.13 (an assertion in its mkldnn
                # fusion pass), so HAT is compiled with its weights as graph inputs.
                run, seconds = compiled(model, x, freeze=False)
                name = f"{precision} torch.compile (inductor)"
                runs[name], compile_seconds[name] = run, seconds
        runs = {
            name: run for name, run in runs.items() if "engine" in name or re.search(only, name)
        }
        with torch.inference_mode():
            reference = models["fp32"](x)
            quality = {name: relative_rms(run(), reference) for name, run in runs.items()}
        best = interleaved(runs, rounds)
        fp32 = best["fp32 engine (SDPA default)"]
        print(f"\n{side}x{side} random input, best of {rounds} interleaved rounds\n")
        print(
            "| option | s/run | input MP/s | vs fp32 engine | rel. RMS vs fp32 engine | compile s |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for name, seconds in best.items():
            print(
                f"| {name} | {seconds:.3f} | {side * side / seconds / 1e6:.4f} | "
                f"{fp32 / seconds:.2f}x | "
                f"{quality[name]:.2e} | {compile_seconds.get(name, 0):.0f} |"
            )
        sys.stdout.flush()


# -- patch shapes and tile sizes -------------------------------------------------------------------


def bench_shapes() -> None:
    from sr_studio.engine.upscaler import Upscaler

    print("\n## Distinct patch shapes on a 12 MP photo (4000x3000), default CPU tiles")
    span = Upscaler(load_model(SPAN_X4), device="cpu", precision="bf16", tile=384)
    torch.manual_seed(0)
    random_hat = model_from_state_dict(HAT(**HAT_S).state_dict())
    hat = Upscaler(random_hat, device="cpu", precision="bf16", tile=320)
    for name, upscaler in (("SPAN x4, tile 384", span), ("HAT-S x4, tile 320", hat)):
        patches = upscaler.patches(3000, 4000)
        shapes = {(y1 - y0, x1 - x0) for y0, y1, x0, x1 in patches}
        uniform = upscaler._uniform_shape(*upscaler._grid(3000, 4000, upscaler.tile or 0))
        if uniform is not None:  # SPAN: the engine widens every patch to one shape
            shapes = {uniform}
        print(f"- {name}: {len(patches)} patches, {len(shapes)} distinct shapes: {sorted(shapes)}")


def bench_tiles(tiles: list[int], rounds: int) -> None:
    from sr_studio.engine.upscaler import Upscaler

    pixels = photo_pixels()
    print(
        f"\n## SPAN x4 through Upscaler, whole photo {pixels.shape[1]}x{pixels.shape[0]}, "
        f"best of {rounds} interleaved rounds\n"
    )
    upscalers = {
        p: {t: Upscaler(load_model(SPAN_X4), device="cpu", precision=p, tile=t) for t in tiles}
        for p in ("fp32", "bf16")
    }
    runs: dict[str, Run] = {}
    for precision, by_tile in upscalers.items():
        for tile, upscaler in by_tile.items():
            runs[f"{precision} tile {tile}"] = lambda u=upscaler: u.upscale(pixels)  # type: ignore[misc]
    best = interleaved(runs, rounds)
    print("| precision | tile | s/photo | input MP/s |")
    print("| --- | --- | --- | --- |")
    megapixels = pixels.shape[0] * pixels.shape[1] / 1e6
    for name, seconds in best.items():
        precision, _, tile = name.split()
        print(f"| {precision} | {tile} | {seconds:.2f} | {megapixels / seconds:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="span,hat,shapes,tiles")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--span-sides", default="256,384")
    parser.add_argument("--hat-sides", default="64,96")
    parser.add_argument("--tiles", default="128,192,256,384,512")
    parser.add_argument("--only", default="", help="just the options whose name matches this regex")
    parser.add_argument(
        "--no-compile", action="store_true", help="leave torch.compile out (minutes on 2 cores)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    heap.hold_freed_memory()  # as the engine runs models
    flags = (
        [
            f
            for f in Path("/proc/cpuinfo").read_text().split("flags")[1].splitlines()[0].split()
            if f.startswith(("avx", "amx"))
        ]
        if Path("/proc/cpuinfo").is_file()
        else []
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"capability {torch.backends.cpu.get_cpu_capability()}, CPU flags: {' '.join(flags)}"
    )
    groups = args.groups.split(",")
    if "span" in groups:
        bench_span(
            [int(s) for s in args.span_sides.split(",")],
            args.rounds,
            not args.no_compile,
            args.only,
        )
    if "hat" in groups:
        bench_hat(
            [int(s) for s in args.hat_sides.split(",")], args.rounds, not args.no_compile, args.only
        )
    if "shapes" in groups:
        bench_shapes()
    if "tiles" in groups:
        bench_tiles([int(t) for t in args.tiles.split(",")], max(1, args.rounds // 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
