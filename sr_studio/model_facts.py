"""What a photographer gets from a catalog model, before the download: where it comes from, how
large it is, how accurate its authors measured it, and how long it takes here.

One place for the words, so that `sr-studio models list --all` and the window's Model Manager say
the same. Qt-free; torch only through the throughput store's reading of earlier measurements (no
network runs here: an estimate for this computer comes from what it measured before, else from the
catalog's benchmark figure, and says which).
"""

from __future__ import annotations

from sr_studio.durations import duration_text
from sr_studio.weights.catalog import CatalogEntry
from sr_studio.weights.store import human_size

# The bundled SPAN x4 Clean (the published SPAN's weights) on the same protocol, measured here
# (README, "Models"): what a HAT's published figures are set against.
SPAN_X4_MEASURED = {"Set5": 32.20, "Set14": 28.66, "Urban100": 26.13}


def provenance(entry: CatalogEntry) -> str:
    """'81.1 MB · Apache-2.0 · verified against OpenModelDB/... (size and SHA-256)'."""
    return (
        f"{human_size(entry.size)} · {entry.license} · verified against {entry.source_name} "
        "(size and SHA-256)"
    )


def accuracy(entry: CatalogEntry) -> str:
    """'Urban100 27.87 dB published: +1.74 dB over SPAN x4' or '' when its authors quote none."""
    psnr = entry.published_psnr
    if not psnr:
        return ""
    name = "Urban100" if "Urban100" in psnr else sorted(psnr)[0]
    text = f"{name} {psnr[name]:.2f} dB published"
    if entry.scale == 4 and name in SPAN_X4_MEASURED:
        text += f": {psnr[name] - SPAN_X4_MEASURED[name]:+.2f} dB over SPAN x4"
    return text


def speed(entry: CatalogEntry, here_seconds: float | None = None) -> str:
    """'about 5 min for a 1 MP photo on this computer' (when this computer timed a network of its
    shape) or '... on a 2-core Zen 4 (benchmark)'; '' when neither is known."""
    if here_seconds is not None:
        return f"{duration_text(here_seconds)} for a 1 MP photo on this computer"
    if entry.cpu_seconds_per_megapixel is None:
        return ""
    where = entry.speed_measured_on
    machine = f"the benchmark CPU ({where})" if where else "the benchmark CPU"
    return f"{duration_text(entry.cpu_seconds_per_megapixel)} for a 1 MP photo on {machine}"


def measured_here(entry: CatalogEntry) -> float | None:
    """Seconds for a 1 MP photo on this computer's CPU from its own earlier measurements of a
    network of this shape (runs, previews, an --estimate), without running anything; None when it
    has none."""
    shape = entry.hyperparameters
    if shape is None:
        return None
    import torch

    from sr_studio.archs import describe_recorded
    from sr_studio.engine.throughput import ThroughputStore, speed_key

    descriptor = describe_recorded(entry.arch, shape)
    if descriptor is None:
        return None
    store = ThroughputStore.default()
    rates = [
        store.rate(speed_key(descriptor, torch.device("cpu"), precision))
        for precision in ("bf16", "fp32")
    ]
    best = max((rate for rate in rates if rate), default=None)
    return 1_000_000 / best if best else None


def facts(entry: CatalogEntry) -> list[str]:
    """The lines shown for one catalog model, the time from this computer's own measurements
    when it has them."""
    lines = (provenance(entry), accuracy(entry), speed(entry, measured_here(entry)))
    return [line for line in lines if line]
