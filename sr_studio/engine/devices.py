"""Which device and number format a run uses, how much memory it may take, and what counts as
running out."""

from __future__ import annotations

import functools
import gc
import os
import platform

import torch

from sr_studio.archs.descriptor import ModelDescriptor
from sr_studio.errors import EngineError

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
UNKNOWN_FREE_MEMORY = 2 * 1024**3  # assumed when the platform will not say (a modest laptop)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def choose_device(requested: str = "auto") -> torch.device:
    """`auto` prefers CUDA, then Apple's MPS, then the CPU; a named device that is missing is an
    EngineError."""
    name = str(requested).strip().lower()
    kind = name.split(":", 1)[0]
    if kind not in DEVICE_NAMES:
        raise EngineError(f"unknown device {requested!r}: choose one of {', '.join(DEVICE_NAMES)}")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise EngineError(
                "device cuda is not available (no CUDA GPU or this PyTorch build has no CUDA)"
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise EngineError(
                f"device {name} is not available ({torch.cuda.device_count()} CUDA GPU(s) found)"
            )
        return device
    if kind == "mps" and not _mps_available():
        raise EngineError(
            "device mps is not available (needs Apple silicon and a PyTorch build with MPS)"
        )
    return torch.device(name)


EMULATED_BF16_NOTICE = (
    "bf16 is emulated on this CPU (it lacks AVX512-BF16, AMX and Arm BF16) "
    "and runs about 10x slower than fp32: running in fp32"
)


def effective_precision(precision: str, device: torch.device) -> tuple[str, str | None]:
    """The precision a run actually uses, and a one-line notice when it is not the one asked for.

    Without bfloat16 instructions PyTorch emulates bf16 on the CPU, about 10x slower than float32
    (SPAN x4, AVX2 machine), for no gain in memory that matters: such a request runs in fp32.
    """
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        return "fp32", EMULATED_BF16_NOTICE
    return precision, None


AUTOMATIC = "auto"


def automatic_precision(descriptor: ModelDescriptor, device: torch.device) -> tuple[str, str]:
    """The fastest precision that keeps this model's quality on this device, and why, in a few
    words.

    The descriptor says which precisions keep the network faithful (SPAN: bf16 >= 45 dB from fp32;
    HAT: bf16 within 1e-2 relative RMS, never fp16); the device says which of them it computes fast.
    A GPU takes fp16 where allowed (bf16's speed with three more mantissa bits), else bf16; a CPU
    takes bf16 only with bfloat16 instructions (emulated bf16 is ~10x slower than fp32).
    """
    kind = device.type
    allowed = descriptor.allowed_precisions(kind)
    if kind == "cpu":
        if "bf16" in allowed and cpu_has_native_bf16():
            return "bf16", "automatic: this CPU computes bfloat16 in hardware"
        if "bf16" in allowed:
            return "fp32", "automatic: this CPU has no bfloat16 instructions"
        return "fp32", f"automatic: {descriptor.variant} keeps its quality only in fp32 here"
    if "fp16" in allowed:
        return "fp16", "automatic: half precision on the GPU"
    if "bf16" in allowed and _bf16_supported(device):
        return "bf16", f"automatic: bfloat16 on the GPU ({descriptor.variant} overflows in fp16)"
    return "fp32", f"automatic: this GPU has no bfloat16 for {descriptor.variant}"


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX on x86, the BF16 extension on Arm: where oneDNN computes bf16 in hardware.

    Plain AVX-512 is not enough: oneDNN then converts in software and bf16 is no faster than fp32.
    """
    if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86"):
        try:
            probe = torch.cpu
            return bool(probe._is_avx512_bf16_supported() or probe._is_amx_tile_supported())
        except AttributeError:  # private helpers of torch.cpu; oneDNN's own test is the fallback
            pass
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def choose_dtype(precision: str, device: torch.device, descriptor: ModelDescriptor) -> torch.dtype:
    """What the model's descriptor allows on this kind of device, and bfloat16 only where the device
    computes it."""
    if precision not in PRECISIONS:
        raise EngineError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    refusal = descriptor.precision_refusal(precision, device.type)
    if refusal is not None:
        raise EngineError(refusal)
    if precision == "bf16" and not _bf16_supported(device):
        raise EngineError(f"precision bf16 is not supported on {device}: use fp32")
    return PRECISIONS[precision]


def cast_model(model: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Move and cast in place. A network with its own mixed-precision recipe (`cast_for_inference`:
    HAT keeps its residual stream, norms, head and tail in float32) gets it; others are cast whole.
    """
    model = model.to(device=device)
    cast = getattr(model, "cast_for_inference", None)
    return cast(dtype) if cast is not None else model.to(dtype=dtype)


def strict_float32() -> None:
    """fp32 means IEEE float32 on a GPU too: PyTorch lets cuDNN run float32 convolutions in TF32
    (10-bit mantissa) by default, which moves results by about 1e-3 of their range; bf16 and fp16
    are the fast choices."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def _bf16_supported(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    try:  # MPS gained bfloat16 with macOS 14; asking is the reliable test
        torch.ones(1, dtype=torch.bfloat16, device=device) + 1
        return True
    except (RuntimeError, TypeError):
        return False


def free_memory_bytes(device: torch.device) -> int:
    """Memory a run may still take: free VRAM on CUDA, MPS's recommended working set, available RAM
    on the CPU."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except (AttributeError, RuntimeError):
            return UNKNOWN_FREE_MEMORY
    return available_ram_bytes()


def available_ram_bytes() -> int:
    """MemAvailable from /proc/meminfo (counts reclaimable cache), else free pages, else a modest
    guess."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return UNKNOWN_FREE_MEMORY


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA raises OutOfMemoryError; the CPU and MPS allocators raise a RuntimeError saying so."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    if isinstance(error, (RuntimeError, MemoryError)):
        message = str(error).lower()
        return isinstance(error, MemoryError) or any(
            phrase in message
            for phrase in (
                "out of memory",
                "can't allocate",
                "cannot allocate",
                "failed to allocate",
            )
        )
    return False


def release_cached_memory(device: torch.device) -> None:
    """Hand freed blocks back after an out-of-memory error so the retry starts from a clean pool."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()
