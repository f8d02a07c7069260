#!/bin/sh
# The training schedule of the first session: x2 for ~70 minutes, then x4 from the x2 body.
cd "$(dirname "$0")/.." || exit 1
PY=.venv/bin/python
$PY tools/train_span.py --scale 2 --run training/runs/x2 --budget-minutes 68 --stop-minutes 72 >> training/runs/x2.out 2>&1
$PY tools/train_span.py --scale 4 --run training/runs/x4 --init-body training/runs/x2/last.pt --budget-minutes 45 --stop-minutes 48 >> training/runs/x4.out 2>&1
