#!/usr/bin/env bash
# s37 n16, after the review mend a231dc7 (decode-trace builds its call through decode_call_params,
# so 4-token cells are causal as in the bench): the GPU test, and the 4-token d128 `_wg` cell
# n13 / n15 traced unmasked, now with the causal mask, at 13 and 8 splits.
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s37/n16.sh n16 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-90}"
shift 2
TR=$PWD/build-bench/cubin-trace
part gpu-trace-test 60 "$T" "-tc=gpu decode-trace*"
for s in 13 8; do
  part "trace-d128wg-4k-s$s" 30 env PTXFMHA_CUBIN_DIR="$TR" .deps/gpu/ptxfmha decode-trace \
    --cell decode/d128/b1/kv4096/hq128hkv8/q4/contig --splits "$s" --reps 5 --raw
done
call_end
