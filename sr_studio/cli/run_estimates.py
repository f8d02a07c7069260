"""`sr-studio upscale --estimate`: how long each photo would take, before paying for it; writes
nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sr_studio.errors import SRStudioError


def print_estimates(
    upscaler: Any, sources: list[Path], scale: float, args: argparse.Namespace
) -> int:
    from sr_studio.engine.throughput import ThroughputStore, estimate_run, estimate_text
    from sr_studio.photo_io import read_photo

    store = ThroughputStore.default()
    sizes: list[tuple[Path, int, int]] = []
    failures = 0
    for source in sources:  # every photo read first: a bad one is reported before any calibration
        try:
            photo = read_photo(source, max_pixels=int(args.max_megapixels * 1_000_000))
        except SRStudioError as error:
            failures += 1
            print(f"sr-studio: error: {error}", file=sys.stderr)
            continue
        sizes.append((source, photo.height, photo.width))
        del photo
    if not sizes:
        return 1
    if store.rate(_key(upscaler)) is None and not args.quiet:
        print(
            "sr-studio: note: no run of this model on this machine yet: calibrating (seconds)",
            file=sys.stderr,
        )
    faster = FasterOptions(upscaler, scale, store)
    total = 0.0
    alternatives_total: dict[str, float] = {}
    for source, height, width in sizes:
        estimate = estimate_run(upscaler, height, width, scale, store)
        assert estimate is not None  # calibration was allowed
        options = faster.for_photo(height, width)
        total += estimate.seconds
        for name, seconds in options:
            alternatives_total[name] = alternatives_total.get(name, 0.0) + seconds
        out_h, out_w = upscaler.output_size(height, width, scale)
        text = estimate_text(estimate.seconds, options)
        print(f"{source}: {width}x{height} -> {out_w}x{out_h}: {text}")
    if len(sizes) > 1:
        print(f"all {len(sizes)} photos: {estimate_text(total, list(alternatives_total.items()))}")
    return 1 if failures else 0


def _key(upscaler: Any) -> str:
    from sr_studio.engine.throughput import speed_key

    return str(speed_key(upscaler.descriptor, upscaler.device, upscaler.precision))


class FasterOptions:
    """What else this machine offers: the bundled SPAN (when the model is slower) and a GPU (when
    there is one and a run on it was measured)."""

    def __init__(self, upscaler: Any, scale: float, store: Any) -> None:
        self.upscaler, self.scale, self.store = upscaler, scale, store
        self._span: Any = None
        self._span_wanted = upscaler.descriptor.speed != "fast"
        self._gpu_rate = self._measured_gpu_rate()

    def _measured_gpu_rate(self) -> float | None:
        import torch

        from sr_studio.engine.throughput import speed_key

        if self.upscaler.device.type != "cpu" or not torch.cuda.is_available():
            return None
        device = torch.device("cuda")
        rates = [
            self.store.rate(speed_key(self.upscaler.descriptor, device, precision))
            for precision in ("bf16", "fp16", "fp32")
        ]
        return max((rate for rate in rates if rate), default=None)

    def _span_upscaler(self) -> Any:
        if self._span is None:
            from sr_studio.engine import Upscaler
            from sr_studio.model_loading import load_model
            from sr_studio.weights import default_model_path

            model = load_model(default_model_path(max(1, round(self.scale))))
            self._span = Upscaler(
                model, device=str(self.upscaler.device), precision=self.upscaler.precision
            )
        return self._span

    def for_photo(self, height: int, width: int) -> list[tuple[str, float]]:
        from sr_studio.engine.crop_preview import patch_pixels
        from sr_studio.engine.throughput import estimate_run

        options: list[tuple[str, float]] = []
        if self._span_wanted:
            span = estimate_run(self._span_upscaler(), height, width, self.scale, self.store)
            if span is not None:
                options.append(("SPAN", span.seconds))
        if self._gpu_rate:
            options.append(
                ("a GPU", patch_pixels(self.upscaler, height, width, self.scale) / self._gpu_rate)
            )
        return options
