"""Write the published SPAN ch48 x2 / x4 weights as SR Studio's bundled clean models.

  python tools/bundle_published_span.py ../shared/weights/span-official resources/models

The source files are checked against the sha256 recorded in `../shared/weights/README.md` and loaded
once; the bundle gets the same tensors, flat, in the official layout, as .safetensors (no pickle to
open at start-up). The output must give exactly the source's pictures: the script checks that too.
safetensors writes its metadata in hash-map order, so two runs give equal tensors but not always
equal bytes; the cards record the sha256 of the files shipped.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SOURCES = {  # bundled stem: (published file, its sha256)
    "span-x2": (
        "spanx2_ch48.pth",
        "5f4e4466011e1d2a12fef08b9c2def28a0ce582567e6eb24a8764745d0a8af0d",
    ),
    "span-x4": (
        "spanx4_ch48.pth",
        "82c9eda8679f0a1525bbb1037c322ac00279029620cc87a31e5f0ea83726c187",
    ),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "source", type=Path, help="the folder with spanx2_ch48.pth and spanx4_ch48.pth"
    )
    parser.add_argument("destination", type=Path, help="resources/models")
    args = parser.parse_args(argv)

    import torch
    from safetensors.torch import save_file

    from sr_studio.checkpoint import read_state_dict
    from sr_studio.model_loading import load_model
    from sr_studio.weights.store import sha256_of

    for stem, (name, expected) in SOURCES.items():
        source = args.source / name
        actual = sha256_of(source)
        if actual != expected:
            print(f"error: {source}: sha256 {actual}, expected {expected}", file=sys.stderr)
            return 1
        tensors = {k: v.float().contiguous() for k, v in read_state_dict(source).items()}
        target = args.destination / f"{stem}.safetensors"
        temporary = target.with_name(target.name + ".tmp")
        save_file(
            tensors,
            str(temporary),
            metadata={
                "arch": "SPAN",
                "scale": stem[-1],
                "source": f"{name} (sha256 {expected})",
                "provenance": "published SPAN ch48 (hongyuanyu/SPAN, Apache-2.0), recovered from a "
                "float16 ncnn export",
            },
        )
        os.replace(temporary, target)
        x = torch.rand(1, 3, 40, 36)
        with torch.inference_mode():
            difference = (load_model(target)(x) - load_model(source)(x)).abs().max().item()
        print(
            f"{target}: {target.stat().st_size} bytes, sha256 {sha256_of(target)}, max difference "
            f"{difference:.1e}"
        )
        if difference != 0.0:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
