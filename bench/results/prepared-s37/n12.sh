#!/usr/bin/env bash
# s37 n12: which CTAs of a split grid fall behind? The traced split kernels
# (ptx/body/sm90_decode/cta_trace.ptxh, `make cubin-trace`) record per CTA its SM and its start
# and end (%globaltimer); `ptxfmha decode-trace` runs one cell through ptxfmha_decode at a forced
# split count and prints the CTAs' durations overall and per split index, then every record
# (--raw, `placement --raw`'s form: tools/placement_groups.py reads it).
#   gpu-trace-test    the GPU test: one valid record per CTA, and none with the shipped cubins
#   trace-d256-*-sN   d256 batch 1, 32/8 x 1 token, kv 128k (n9: at 96 CTAs the longest SM
#                     1.134x the busy mean, at 64 contiguous 1.006)
#   trace-d64-*       d64 batch 32: kv 8k 128/8 x 1 token at 2 splits (512 CTAs), kv 8k 32/32
#                     x 4 tokens at 2 splits (1024 CTAs, 0.963x cuDNN in s35)
# Carry: bench/results/prepared-s23/prepare.sh, then `make BUILD=build-bench cubin-trace` and
# build-bench/cubin-trace added to the tar. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s37/n12.sh n12 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-240}"
shift 2
TR=$PWD/build-bench/cubin-trace
part gpu-trace-test 60 "$T" "-tc=gpu decode-trace*" -s
trace() {
  part "trace-$1" 60 env PTXFMHA_CUBIN_DIR="$TR" .deps/gpu/ptxfmha decode-trace --cell "$2" --splits "$3" --reps 5 --raw
}
C=decode/d256/b1/kv131072/hq32hkv8/q1
for s in 12 8 16; do trace "d256-contig-s$s" "$C/contig" "$s"; done
for s in 12 16 8; do trace "d256-page64-s$s" "$C/page64" "$s"; done
trace d64-gqa-s2 decode/d64/b32/kv8192/hq128hkv8/q1/contig 2
trace d64-mha-s2 decode/d64/b32/kv8192/hq32hkv32/q4/contig 2
call_end
