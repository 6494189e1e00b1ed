#!/usr/bin/env bash
# Prepared in s29, not run: branch s29-cpasync, the plain bf16 decode rows (1-16 packed rows,
# mma.sync consumers) loading a contiguous cache with cp.async (every producer lane 16 bytes of a
# row, whole rows per warp instruction, the swizzled layout TMA writes) instead of TMA boxes of
# 128-byte half rows. Why: on the H100 (s29) cuDNN's decode kernel (cudnn_generated_fort_native_
# sdpa_sm80_flash_fprop_wmma_f16_knob_35_16x128x128, cp.async, 2 CTAs per SM) read at 95% of
# DRAM peak where ours read at 93.4% (ncu, d128 b32 kv8k 32/32), 0.2-3.7% ahead on 1-token
# contiguous cells; 16-key boxes (closer half rows) gained 0.5%. Parts:
#   tests     the branch's gpu-decode suite with its cubins (poisoned outputs, float64 reference,
#             ragged and empty sequences, splits, graphs)
#   san-*     racecheck / synccheck of the bf16 sanitizer shapes with the branch
#   a1 b1 a2 b2   main and the branch, alternating, 48 cells of the plain rows (d64 / d128 / d256,
#             32/32 and 32/8 heads x 1 token, 64/8 and 128/8 (8 / 16 rows) at d128, batch 8 / 32 /
#             128, kv 8k / 32k, contiguous) and 8 in pages of 16 (the branch keeps TMA there)
#   cudnn-b   the branch with cuDNN autotuned beside, the contiguous 1-token cells
# Carry: prepare-s23/prepare.sh, then prepare-n2.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s29/n2.sh n2 560
. bench/devcall.sh
call_begin "$1" "${2:-560}"
CA="$PWD/build-mut/ca"
part tests 200 env PTXFMHA_CUBIN_DIR="$CA/cub" "$CA/bin/ptxfmha_tests" -ts=gpu-decode
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in racecheck synccheck; do
  part "san-$tool" 90 env PTXFMHA_CUBIN_DIR="$CA/cub" "$SAN" --tool "$tool" "$CA/bin/ptxfmha_tests" \
    "-tc=decode gpu: sanitizer shapes*"
done
F="decode/(d(64|128|256)/b(8|32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/contig|d128/b(8|32|128)/kv(8192|32768)/hq(64|128)hkv8/q1/contig|d128/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/page16)/"
run_side() {  # NAME BENCH CUBINS
  part "$1" 120 env PTXFMHA_CUBIN_DIR="$3" "$2" --ptxfmha_suite=decode --ptxfmha_decode_grid=full \
    --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0 \
    "--benchmark_filter=$F" "--benchmark_out=$R/$1.json" --benchmark_out_format=json
}
run_side a1 "$B" "$PWD/build-bench/cub"
run_side b1 "$CA/bin/ptxfmha_bench" "$CA/cub"
run_side a2 "$B" "$PWD/build-bench/cub"
run_side b2 "$CA/bin/ptxfmha_bench" "$CA/cub"
part cudnn-b 150 env PTXFMHA_CUBIN_DIR="$CA/cub" "$CA/bin/ptxfmha_bench" --ptxfmha_suite=decode \
  --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 \
  "--benchmark_filter=decode/d(64|128)/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/contig/" \
  "--benchmark_out=$R/cudnn-b.json" --benchmark_out_format=json
call_end
