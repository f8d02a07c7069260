#!/usr/bin/env bash
# The CUDA checks and benchmarks recorded in benchmarks/RESULTS.md, in one go: a lent GPU machine's time is
# short, so everything runs in one command, each step bounded, each log written as it goes.
#
#   benchmarks/run_on_gpu.sh SHARED_DIR LOG_DIR      (SHARED_DIR: a copy of ../shared's fixtures and Set5)
set -u
shared=$(realpath "$1")
logs=$(realpath "$2")
python=${PYTHON:-python3}
export SR_STUDIO_SHARED=$shared PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."

step() {  # step NAME SECONDS COMMAND...: run one part, its output kept in LOG_DIR/NAME.txt
    local name=$1 seconds=$2
    shift 2
    echo "== $name: $*"
    local started=$SECONDS
    timeout "$seconds" "$@" >"$logs/$name.txt" 2>&1
    echo "== $name: exit $? after $((SECONDS - started)) s"
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    "$python" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(), torch.version.cuda)"
    nproc
} >"$logs/machine.txt" 2>&1

step tests 180 "$python" -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py
step models 240 "$python" benchmarks/bench_models.py --device cuda
for precision in fp32 bf16 fp16; do
    step "cli_span_x4_$precision" 120 "$python" benchmarks/bench_cli.py --device cuda --precision "$precision"
done
# HAT x4 in the official layout with random weights (speed does not depend on the weights).
"$python" -c "
import torch
from safetensors.torch import save_file
from sr_studio.archs.hat import HAT
torch.manual_seed(0)
model = HAT(upscale=4, embed_dim=180, depths=[6] * 6, num_heads=[6] * 6, window_size=16, compress_ratio=3,
            squeeze_factor=30)
save_file({k: v.clone().contiguous() for k, v in model.state_dict().items()}, '/tmp/hat_x4_random.safetensors')
"
step cli_hat_x4_bf16 150 "$python" benchmarks/bench_cli.py --device cuda --precision bf16 --model /tmp/hat_x4_random.safetensors
step cli_hat_x4_fp32_3mp 150 "$python" benchmarks/bench_cli.py --device cuda --precision fp32 --size 2000x1500 --model /tmp/hat_x4_random.safetensors
