"""Throughput of SR Studio's networks against the machine's own matmul roofline.

Each configuration runs in a fresh subprocess so that its peak resident memory is its own. Reports
input megapixels per second, achieved GFLOP/s (FLOPs from torch.utils.flop_counter on the same model
and input size), and the float32 / bfloat16 2048x2048 matmul GFLOP/s measured in the same run.

bfloat16 rows are run where the device computes bf16 in hardware (a CPU with AVX512-BF16 or AMX, a
GPU that supports it). Elsewhere PyTorch emulates bf16 at about a tenth of fp32's speed (and the app
runs such requests in fp32), so those rows would take minutes for nothing; `--precisions fp32,bf16`
runs them anyway. On CUDA, fp16 rows are added for SPAN (the engine refuses fp16 for HAT), fp32 is
strict IEEE float32 as the engine runs it (no TF32), and the inputs are larger (SPAN 1024, HAT 256
px) so that a GPU is not measured on launch overhead.

    .venv/bin/python benchmarks/bench_models.py [--device cpu|cuda]
        [--models span-x2,span-x4,hat-s-x4,hat-x4] [--side N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HAT_S = dict(
    embed_dim=144,
    depths=[6] * 6,
    num_heads=[6] * 6,
    window_size=16,
    compress_ratio=24,
    squeeze_factor=24,
)
HAT_M = dict(
    embed_dim=180,
    depths=[6] * 6,
    num_heads=[6] * 6,
    window_size=16,
    compress_ratio=3,
    squeeze_factor=30,
)
CONFIGS = {  # architecture, scale, input side on the CPU, input side on a GPU
    "span-x2": ("SPAN", 2, 256, 1024),
    "span-x4": ("SPAN", 4, 256, 1024),
    "hat-s-x4": ("HAT-S", 4, 64, 256),
    "hat-x4": ("HAT", 4, 64, 256),
}
DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def build(name: str):
    import torch

    from sr_studio.archs.hat import HAT
    from sr_studio.model_loading import load_model, model_from_state_dict

    arch, scale, *_ = CONFIGS[name]
    if arch == "SPAN":
        bundled = REPO / "resources" / "models" / f"span-x{scale}.safetensors"
        if bundled.is_file():
            return load_model(bundled), f"bundled {bundled.name}"
        from sr_studio.archs.span import SPAN

        torch.manual_seed(0)
        return model_from_state_dict(
            SPAN(48, scale).state_dict()
        ), "random weights (no bundled model)"
    torch.manual_seed(0)
    options = HAT_S if arch == "HAT-S" else HAT_M
    return model_from_state_dict(
        HAT(upscale=scale, **options).state_dict()
    ), "random weights, official layout"


def matmul_side(device: str) -> int:
    """2048 on a CPU; a GPU needs 8192 to be measured on arithmetic rather than launch overhead."""
    return 2048 if device == "cpu" else 8192


def matmul_gflops(dtype, device, seconds: float = 1.5, windows: int = 5) -> float:
    """The best of `windows` timing windows: on a shared VM one 1.5 s window read anywhere from 77
    to 111 GFLOP/s (fp32, 2 threads, AVX2); the roofline is what the machine can do, so the best
    counts."""
    import torch

    n = matmul_side(device)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(windows):
        if device != "cpu":
            torch.cuda.synchronize()
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / windows:
            a @ b
            runs += 1
            if device != "cpu":
                torch.cuda.synchronize()
        best = max(best, 2 * n**3 * runs / (time.perf_counter() - started) / 1e9)
    return best


def measure_one(name: str, precision: str, device: str, repeats: int, side: int) -> dict:
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from sr_studio.engine import heap
    from sr_studio.engine.devices import PRECISIONS, cast_model, strict_float32

    heap.hold_freed_memory()  # as the engine runs models (tile memory reused, not faulted in again)
    strict_float32()  # as the engine runs models on a GPU
    model, weights = build(name)
    model = model.network  # timed as the bare network, cast as the engine casts it
    dtype = PRECISIONS[precision]
    side = side or CONFIGS[name][2 if device == "cpu" else 3]
    model = model.to(device=device)
    x = torch.rand(1, 3, side, side, device=device)
    with torch.inference_mode():
        # The fused attention kernels (and oneDNN's fused bf16 linear) are invisible to the FLOP
        # counter: count in float32 on SDPA's math path instead; the network does the same
        # arithmetic in any precision.
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(x)
        flops = counter.get_total_flops()
    mixed = hasattr(model, "cast_for_inference")
    model = cast_model(
        model, torch.device(device), dtype
    )  # as the engine runs it (HAT: mixed precision)
    x = x if mixed else x.to(dtype)
    with torch.inference_mode():
        model(x)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            model(x)
            if device != "cpu":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
    best = min(times)
    attention = attention_split(model, x, flops) if name.startswith("hat") else {}
    return {
        **attention,
        "model": name,
        "weights": weights,
        "precision": precision,
        "device": device,
        "input": f"{side}x{side}",
        "seconds": best,
        "mpix_per_s": side * side / best / 1e6,
        "gflops": flops / best / 1e9,
        "mflop_per_pixel": flops / (side * side) / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_device_mb": torch.cuda.max_memory_allocated() / 2**20 if device != "cpu" else 0.0,
    }


def attention_split(model, x, flops: float) -> dict:
    """HAT's window attention apart from the rest: its FLOPs and its time in one profiled run.

    With them, the best the whole model could reach if everything but attention ran at the matmul
    rate is flops / (attention time + other FLOPs / matmul rate): the ceiling attention leaves (see
    main)."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from torch.utils.flop_counter import FlopCounterMode

    on_gpu = x.device.type != "cpu"
    with torch.inference_mode():
        with FlopCounterMode(
            display=False
        ) as counter:  # fused SDPA (the default kernel) is not counted
            model(x)
        activities = [ProfilerActivity.CPU] + [ProfilerActivity.CUDA] * on_gpu
        with profile(activities=activities) as profiler:
            started = time.perf_counter()
            model(x)
            if on_gpu:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
    if (
        on_gpu
    ):  # the attention kernels' own GPU time (flash, memory-efficient "fmha" or cuDNN attention)
        attention_seconds = (
            sum(
                getattr(e, "self_device_time_total", 0)
                for e in profiler.key_averages()
                if e.device_type == torch.autograd.DeviceType.CUDA
                and any(k in e.key.lower() for k in ("fmha", "flash", "attention", "sdpa"))
            )
            / 1e6
        )
    else:
        attention_seconds = (
            sum(
                e.self_cpu_time_total
                for e in profiler.key_averages()
                if "scaled_dot_product" in e.key or "flash_attention" in e.key
            )
            / 1e6
        )
    # On a GPU the counter sees the fused attention ops; on the CPU it does not, and the difference
    # is attention.
    fused = sum(
        count
        for op, count in counter.get_flop_counts().get("Global", {}).items()
        if "attention" in str(op)
    )
    attention_flops = fused or flops - counter.get_total_flops()
    return {
        "attention_flops": attention_flops,
        "attention_seconds": attention_seconds,
        "profiled_seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default=",".join(CONFIGS))
    parser.add_argument(
        "--precisions",
        default="auto",
        help="comma-separated (fp32,bf16); auto: fp32, plus bf16 where the device has it in "
        "hardware",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (default: torch's choice)"
    )
    parser.add_argument(
        "--side", type=int, default=0, help="input side in pixels (default: per model and device)"
    )
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.one:
        print(
            json.dumps(measure_one(args.one[0], args.one[1], args.device, args.repeats, args.side))
        )
        return 0

    import torch
    from bench_cli import cpu_name  # same folder

    from sr_studio.engine.devices import cpu_has_native_bf16, strict_float32

    strict_float32()
    gpu = args.device != "cpu"
    native_bf16 = cpu_has_native_bf16() if not gpu else torch.cuda.is_bf16_supported()
    precisions = (
        args.precisions.split(",")
        if args.precisions != "auto"
        else ["fp32"] + ["bf16"] * native_bf16 + ["fp16"] * gpu
    )
    capability = torch.backends.cpu.get_cpu_capability()
    roofline = {p: matmul_gflops(getattr(torch, DTYPE_NAMES[p]), args.device) for p in precisions}
    rows = []
    for name in args.models.split(","):
        for precision in precisions:
            if precision == "fp16" and name.startswith("hat"):
                continue  # the engine refuses fp16 for HAT (its attention overflows)
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--device",
                    args.device,
                    "--repeats",
                    str(args.repeats),
                    "--threads",
                    str(args.threads),
                    "--side",
                    str(args.side),
                    "--one",
                    name,
                    precision,
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                print(f"{name} {precision}: failed\n{result.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    # Measured again after the models (the machine's state drifts): the better of the two is the
    # roofline.
    roofline = {
        p: max(g, matmul_gflops(getattr(torch, DTYPE_NAMES[p]), args.device))
        for p, g in roofline.items()
    }
    where = (
        f"{cpu_name()}, {torch.get_num_threads()} threads"
        if not gpu
        else f"{torch.cuda.get_device_name()} (host {cpu_name()})"
    )
    print(f"Machine: {where}, torch {torch.__version__}, device {args.device}")
    print(
        f"CPU capability {capability}; bf16 in hardware on {args.device}: "
        f"{'yes' if native_bf16 else 'no (emulated)'}"
        + (
            ""
            if "bf16" in precisions
            else "; bf16 rows skipped (--precisions fp32,bf16 to run them)"
        )
    )
    n = matmul_side(args.device)
    print(
        f"Matmul {n}x{n} roofline: "
        + ", ".join(f"{p} {g:.0f} GFLOP/s" for p, g in roofline.items())
    )
    print()
    memory = "peak GPU MB" if gpu else "peak RSS MB"
    print(
        "| model | weights | precision | input | MFLOP/px | s/run | input MP/s | GFLOP/s "
        f"| % of matmul | vs fp32 | {memory} |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    fp32_speed = {r["model"]: r["mpix_per_s"] for r in rows if r["precision"] == "fp32"}
    for r in rows:
        ratio = (
            r["mpix_per_s"] / fp32_speed[r["model"]] if r["model"] in fp32_speed else float("nan")
        )
        print(
            f"| {r['model']} | {r['weights']} | {r['precision']} | {r['input']} | "
            f"{r['mflop_per_pixel']:.2f} | "
            f"{r['seconds']:.3f} | {r['mpix_per_s']:.4f} | {r['gflops']:.1f} | "
            f"{100 * r['gflops'] / roofline[r['precision']]:.0f}% | {ratio:.2f}x | "
            f"{r['peak_device_mb'] if gpu else r['peak_rss_mb']:.0f} |"
        )
    split = [r for r in rows if "attention_flops" in r]
    if split:
        print()
        print(
            "Window attention (scaled_dot_product_attention) in one profiled run, and the ceiling "
            "it leaves: the "
            "model's % of matmul if everything else ran at the matmul rate."
        )
        print()
        print(
            "| model | precision | attention share of FLOPs | share of time | attention GFLOP/s | "
            "% of matmul | ceiling |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in split:
            peak = roofline[r["precision"]] * 1e9
            total = (
                r["mflop_per_pixel"]
                * 1e6
                * int(r["input"].split("x")[0])
                * int(r["input"].split("x")[1])
            )
            if not r["attention_seconds"]:
                print(
                    f"| {r['model']} | {r['precision']} | no attention kernel found in the profile "
                    "| | | | |"
                )
                continue
            attention_rate = r["attention_flops"] / r["attention_seconds"]
            ceiling = (
                total / (r["attention_seconds"] + (total - r["attention_flops"]) / peak) / peak
            )
            print(
                f"| {r['model']} | {r['precision']} | {100 * r['attention_flops'] / total:.0f}% | "
                f"{100 * r['attention_seconds'] / r['profiled_seconds']:.0f}% | "
                f"{attention_rate / 1e9:.1f} | "
                f"{100 * attention_rate / peak:.0f}% | {100 * ceiling:.0f}% |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
