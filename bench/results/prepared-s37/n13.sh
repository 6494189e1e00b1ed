#!/usr/bin/env bash
# s37 n13: how late do the plan's own grids end? n12 traced forced counts; this traces the split
# count the library plans (decode-plans, 132 SMs) on the cells the replay and the targets table
# name, so that each cell's longest CTA over its median CTA bounds what a run-time chunk hand-out
# could gain there (bench/DECODE_NOTES.md, s37).
# Carry: as n12 (prepared-s23/prepare.sh, make cubin-trace, build-bench/cubin-trace in the tar).
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s37/n13.sh n13 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-200}"
shift 2
TR=$PWD/build-bench/cubin-trace
trace() {
  part "trace-$1" 40 env PTXFMHA_CUBIN_DIR="$TR" .deps/gpu/ptxfmha decode-trace --cell "$2" --splits "$3" --reps 5 --raw
}
trace d256-b1-64x8-page64-s8 decode/d256/b1/kv131072/hq64hkv8/q1/page64 8
trace d256-b1-128x8-page64-s8 decode/d256/b1/kv131072/hq128hkv8/q1/page64 8
trace d256-b1-32x8-page64-32k-s8 decode/d256/b1/kv32768/hq32hkv8/q1/page64 8
trace d256-b4-32x8-page64-s4 decode/d256/b4/kv131072/hq32hkv8/q1/page64 4
trace d128-b1-32x8-contig-s16 decode/d128/b1/kv131072/hq32hkv8/q1/contig 16
trace d128wg-b1-128x8q4-page16-s16 decode/d128/b1/kv131072/hq128hkv8/q4/page16 16
trace d128wg-b1-128x8q4-4k-s13 decode/d128/b1/kv4096/hq128hkv8/q4/contig 13
trace d128wg-b1-128x8q4-4k-s8 decode/d128/b1/kv4096/hq128hkv8/q4/contig 8
trace d64-b1-32x8-contig-s16 decode/d64/b1/kv131072/hq32hkv8/q1/contig 16
trace d256-b1-32x32-contig-s2 decode/d256/b1/kv131072/hq32hkv32/q1/contig 2
trace d256-b1-32x32-page64-s4 decode/d256/b1/kv131072/hq32hkv32/q1/page64 4
call_end
