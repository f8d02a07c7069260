"""Which GPU settings make SR Studio's networks faster, each measured against the engine's way.

For HAT x4 (official layout, random weights) and the bundled SPAN x4 at about the engine's GPU patch
size, in each precision: the first call (which includes cuDNN's autotuning where it is on) and the
best of five steady calls, for
- default: as the engine runs them now;
- no-head-pad: HAT's attention with its 30-wide heads left to PyTorch's fallback path (HAT-M only);
- channels-last: weights and input in NHWC memory order;
- cudnn-benchmark: cuDNN times its algorithms for each new shape and keeps the fastest;
- both of the last two.
Then the 12 kernels that take the most GPU time in one default HAT bf16 call.

    python benchmarks/bench_gpu_variants.py [--device cuda] [--hat-side 512] [--span-side 1024]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

VARIANTS = (
    "default",
    "no-head-pad",
    "channels-last",
    "cudnn-benchmark",
    "channels-last+cudnn-benchmark",
)


def synchronize(device: str) -> None:
    import torch

    if device != "cpu":
        torch.cuda.synchronize()


def measure(name: str, precision: str, variant: str, device: str, side: int) -> tuple[float, float]:
    import torch
    from bench_models import build

    from sr_studio.archs.hat import network as hat_network
    from sr_studio.engine.devices import PRECISIONS, cast_model

    torch.backends.cudnn.benchmark = "cudnn-benchmark" in variant
    hat_network.PAD_HEADS_ON_GPU = variant != "no-head-pad"
    model = build(name)[0].network
    mixed = hasattr(model, "cast_for_inference")
    model = cast_model(model.eval(), torch.device(device), PRECISIONS[precision])
    x = torch.rand(1, 3, side, side, device=device)
    x = x if mixed else x.to(PRECISIONS[precision])
    if "channels-last" in variant:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        synchronize(device)
        started = time.perf_counter()
        model(x)
        synchronize(device)
        first = time.perf_counter() - started
        model(x)
        best = float("inf")
        for _ in range(5):
            synchronize(device)
            started = time.perf_counter()
            model(x)
            synchronize(device)
            best = min(best, time.perf_counter() - started)
    torch.backends.cudnn.benchmark = False
    hat_network.PAD_HEADS_ON_GPU = True
    return first, best


def kernel_profile(device: str, side: int, rows: int = 12) -> str:
    import torch
    from bench_models import build
    from torch.profiler import ProfilerActivity, profile

    from sr_studio.engine.devices import cast_model

    model = build("hat-x4")[0].network
    model = cast_model(model.eval(), torch.device(device), torch.bfloat16)
    x = torch.rand(1, 3, side, side, device=device)
    activities = [ProfilerActivity.CPU] + [ProfilerActivity.CUDA] * (device != "cpu")
    with torch.inference_mode():
        model(x)
        synchronize(device)
        with profile(activities=activities) as profiler:
            model(x)
            synchronize(device)
    sort = "self_cpu_time_total" if device == "cpu" else "self_device_time_total"
    return profiler.key_averages().table(sort_by=sort, row_limit=rows, max_name_column_width=70)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--hat-side", type=int, default=512)
    parser.add_argument("--span-side", type=int, default=1024)
    args = parser.parse_args()

    import torch

    from sr_studio.engine.devices import strict_float32

    strict_float32()
    gpu = args.device != "cpu"
    print(f"Device: {torch.cuda.get_device_name() if gpu else 'cpu'}; torch {torch.__version__}")
    print()
    print("| model | input | precision | variant | first call s | steady s | vs default |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    plans = [
        ("hat-x4", args.hat_side, ["fp32", "bf16"]),
        ("span-x4", args.span_side, ["fp32", "bf16"] + ["fp16"] * gpu),
    ]
    for name, side, precisions in plans:
        for precision in precisions:
            baseline = None
            for variant in VARIANTS:
                if variant == "no-head-pad" and not name.startswith("hat"):
                    continue
                try:
                    first, steady = measure(name, precision, variant, args.device, side)
                except Exception as error:  # one failing variant must not lose the others' figures
                    print(
                        f"| {name} | {side} | {precision} | {variant} | failed: "
                        f"{str(error).splitlines()[0][:80]} | | |"
                    )
                    continue
                baseline = baseline or steady
                print(
                    f"| {name} | {side} | {precision} | {variant} | {first:.3f} | {steady:.4f} | "
                    f"{baseline / steady:.2f}x |",
                    flush=True,
                )
    print()
    print(
        f"HAT x4 bf16, {args.hat_side}x{args.hat_side}, default: the kernels with the most GPU time"
    )
    print(kernel_profile(args.device, args.hat_side))
    return 0


if __name__ == "__main__":
    sys.exit(main())
