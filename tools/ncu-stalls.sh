#!/usr/bin/env bash
# Where do the warps of one forward kernel wait? Nsight Compute's warp-state sampling of one
# launch of the benchmark's case, per SASS instruction (GPU machine; ncu ships with CUDA).
#
#   bash tools/ncu-stalls.sh [head_dim=128] [seqlen=1024] [causal|noncausal, default noncausal]
#
# Writes to $OUT (default ./ncu-stalls): ncu.log, details.txt (speed of light, warp state,
# launch statistics) and stalls.txt (tools/ncu_stalls.py: the instructions with the most
# samples, offset from the function's start so that they match `cuobjdump -sass` of the same
# cubin, each with its leading stall reasons; then the samples per stall reason).
# A `SYNCS.PHASECHK...TRYWAIT` followed by a sampled `@!P BRA` is an mbarrier wait: read the
# barrier offset in the TRYWAIT to tell which one (the kernel header's shared memory map).
# Environment: PTXFMHA_CUBIN_DIR (which cubins), PTXFMHA_CUDNN_LIB (as for the bench),
# BENCH (default .deps/gpu/ptxfmha_bench, else build*/bin/ptxfmha_bench), NCU, LAUNCH_SKIP=3.
# Other kernels than the forward (the arguments are then ignored): KERNEL_RE (an ncu
# --kernel-name regex) and BENCH_ARGS (the bench's suite/filter arguments that launch it), e.g.
#   KERNEL_RE='regex:fmha_decode_d128_sm90a' BENCH_ARGS="--ptxfmha_suite=decode \
#     --ptxfmha_decode_grid=ab --benchmark_filter=decode/d128/b64/kv32768/hq32hkv8/" bash tools/ncu-stalls.sh
#   KERNEL_RE='regex:fmha_bwd_d128_sm90a' BENCH_ARGS="--ptxfmha_suite=bwd --ptxfmha_head_dims=128 \
#     --ptxfmha_seqlens=4096 --benchmark_filter=bwd/d128/noncausal/s4096/b4h16\$" bash tools/ncu-stalls.sh
# ncu times the kernel under its own clock control and replays it once per metric pass: its
# durations are not the benchmark's; compare the sample shares, not the times.
set -uo pipefail
cd "$(dirname "$0")/.."
HD=${1:-128}; SEQ=${2:-1024}; MODE=${3:-noncausal}
case "$MODE" in causal|noncausal) ;; *) echo "third argument: causal or noncausal" >&2; exit 2;; esac
OUT=${OUT:-ncu-stalls}; mkdir -p "$OUT"
NCU=${NCU:-$(command -v ncu || echo /usr/local/cuda/bin/ncu)}
BENCH=${BENCH:-}
if [ -z "$BENCH" ]; then
  for b in .deps/gpu/ptxfmha_bench build*/bin/ptxfmha_bench; do [ -x "$b" ] && { BENCH=$b; break; }; done
fi
[ -x "$NCU" ] || { echo "ncu not found ($NCU)" >&2; exit 1; }
[ -n "$BENCH" ] && [ -x "$BENCH" ] || { echo "no ptxfmha_bench (make bench, or bench/gpu-bundle.sh)" >&2; exit 1; }
rep=$(mktemp -d)/prof
KERNEL_RE=${KERNEL_RE:-regex:fmha_fwd_d${HD}_}
if [ -z "${BENCH_ARGS:-}" ]; then
  BENCH_ARGS="--ptxfmha_suite=prefill --ptxfmha_head_dims=$HD --ptxfmha_seqlens=$SEQ --benchmark_filter=fwd/d$HD/$MODE/s$SEQ/"
fi
# shellcheck disable=SC2086  # BENCH_ARGS is a list of arguments
"$NCU" --kernel-name "$KERNEL_RE" --launch-skip "${LAUNCH_SKIP:-3}" --launch-count 1 \
  --section SpeedOfLight --section WarpStateStats --section SourceCounters --section LaunchStats \
  -o "$rep" -f "$BENCH" $BENCH_ARGS --ptxfmha_samples=3 >"$OUT/ncu.log" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ ! -f "$rep.ncu-rep" ]; then echo "ncu failed ($rc), see $OUT/ncu.log" >&2; tail -5 "$OUT/ncu.log" >&2; exit 1; fi
"$NCU" --import "$rep.ncu-rep" --page details >"$OUT/details.txt" 2>&1
"$NCU" --import "$rep.ncu-rep" --page source --csv --print-source sass >"$rep.csv" 2>&1
python3 tools/ncu_stalls.py "$rep.csv" >"$OUT/stalls.txt" || exit 1
grep -E "Duration|SM Frequency|Grid Size|Block Size|Registers Per|Issue Slots Busy|Warp Cycles Per Issued" "$OUT/details.txt"
head -45 "$OUT/stalls.txt"
