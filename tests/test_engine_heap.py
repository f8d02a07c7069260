"""On the CPU, each tile reuses the memory of the tile before instead of faulting it in again
(Linux, glibc)."""

from __future__ import annotations

import resource

import numpy as np
import pytest
import torch

from sr_studio.archs import LoadedModel
from sr_studio.archs.span import SPAN
from sr_studio.archs.span.detect import describe_span
from sr_studio.engine import Upscaler, heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="only glibc's allocator is tuned")


def page_faults(work) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    work()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_four_tiles_fault_in_about_the_memory_of_one():
    # 8 channels at a 1048 px patch: 35 MB activations, above glibc's own ceiling for reusable
    # blocks (32 MB), as a 48-channel SPAN has them from a 418 px patch on.
    torch.manual_seed(0)
    model = SPAN(feature_channels=8, upscale=2)
    model.fuse()
    loaded = LoadedModel(model, describe_span({"feature_channels": 8, "upscale": 2}))
    upscaler = Upscaler(loaded, device="cpu", tile=1000)
    one_tile = np.zeros((1000, 1000, 3), np.uint8)
    four_tiles = np.zeros((2000, 2000, 3), np.uint8)
    upscaler.upscale(one_tile)  # warm-up: kernels, thread pools
    single = page_faults(lambda: upscaler.upscale(one_tile))
    quadruple = page_faults(lambda: upscaler.upscale(four_tiles))
    # Faulting every tile in afresh costs about 4x one tile
    # (measured 7x here: 1.2 M faults vs 163 k).
    input_and_output_pages = four_tiles.nbytes * (1 + 4) // 4096
    assert quadruple < 2 * single + input_and_output_pages, (single, quadruple)
