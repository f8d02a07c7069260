#!/bin/sh
# The training schedule of the first session: x2 for ~60 minutes, then x4 from the x2 body for ~40.
cd "$(dirname "$0")/.." || exit 1
PY=.venv/bin/python
$PY tools/train_span.py --scale 2 --run training/runs/x2 --budget-minutes 58 --stop-minutes 61 --validate-every 200 >> training/runs/x2.out 2>&1
$PY tools/train_span.py --scale 4 --run training/runs/x4 --init-body training/runs/x2/last.pt --budget-minutes 38 --stop-minutes 41 --validate-every 200 >> training/runs/x4.out 2>&1
