#!/usr/bin/env bash
# The GPU check, in one run on a machine with an NVIDIA card (README, "On a GPU"): burn's
# wgpu backend against PyTorch on CUDA, flex against PyTorch on that machine's CPU, a whole
# study synthesized on wgpu and on flex, and how far the two volumes differ.
# Usage: benches/gpu_check.sh MMGAN_BINARY STUDY [LOG]
#   MMGAN_BINARY  a release build (`cargo build --release`; strip it to carry it)
#   STUDY         a study folder with T1, T1c, T2 and FLAIR (e.g. ../shared/data/real/brats-met-00110)
# Needs python3 with torch (CUDA) and numpy for the peers and the comparison.
set -u
bin=$1 study=$2 log=${3:-gpu_check.log}
exec > >(tee -a "$log") 2>&1
echo "== $(date -u)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: none"
echo "CPU cores: $(nproc)"; python3 -c "import torch; print('torch', torch.__version__)"
# Containers often ship the NVIDIA Vulkan ICD outside the loader's search path.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ] && ! ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | grep -qi nvidia; then
    export VK_DRIVER_FILES=$icd
fi
export RUST_LOG=warn
out=$(mktemp -d)
step() {
    local limit=$1 start
    shift
    echo "== $* (limit ${limit} s)"
    start=$(date +%s)
    timeout "$limit" "$@" 2>&1 | grep -v '^\s*$'
    echo "   [$(($(date +%s) - start)) s]"
}
# The paper's configuration, then the shipped one (width 32, 224, depth 5).
step 150 "$bin" bench model --backend wgpu --runs 5
step 100 "$bin" bench model --backend wgpu --runs 5 --widths 32 --size 224 --depth 5
step 60 "$bin" bench volume "$study" --missing flair,t1c --runs 3 --backend wgpu
step 60 "$bin" synthesize "$study" --missing flair,t1c --out "$out/wgpu" --backend wgpu
step 60 "$bin" synthesize "$study" --missing flair,t1c --out "$out/cpu" --backend cpu
python3 - "$out" <<'PY'
import gzip, os, struct, sys
import numpy as np

def load(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    offset = int(struct.unpack("<f", raw[108:112])[0])
    code = struct.unpack("<h", raw[70:72])[0]
    dtype = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64}[code]
    slope = struct.unpack("<f", raw[112:116])[0] or 1.0
    return np.frombuffer(raw[offset:], dtype=dtype).astype(np.float64) * slope

out = sys.argv[1]
for name in sorted(os.listdir(f"{out}/cpu")):
    other = f"{out}/wgpu/{name}"
    if name.endswith((".nii", ".nii.gz")) and os.path.exists(other):
        a, b = load(f"{out}/cpu/{name}"), load(other)
        d = np.abs(a - b)
        print(f"{name}: wgpu vs flex max |diff| {d.max():.3f}, mean {d.mean():.5f}, "
              f"flex range {a.min():.0f}..{a.max():.0f}")
PY
step 60 "$bin" bench volume "$study" --missing flair,t1c --runs 1 --backend cpu
step 150 "$bin" bench model --runs 5 --widths 32,16 --size 224 --depth 5
step 120 "$bin" bench model --runs 5 --widths 64,32,16
echo "== done $(date -u)"
