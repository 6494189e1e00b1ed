#!/usr/bin/env bash
# s37 n15: are the slow SMs of n12 / n13 the combine kernel's? The split kernel runs
# griddepcontrol.launch_dependents at SETUP, so the combine grid (launched with programmatic
# serialization) is scheduled while the split grid runs, and its CTAs (32 threads, little shared
# memory) fit beside split CTAs. If their wait costs the SM anything, the SMs they land on would
# lag. PTXFMHA_DECODE_PDL=0 launches the combine fully serialized: the same traces and cells with
# and without it, alternating.
#   tr-{pdl,nopdl}-*   ptxfmha decode-trace (the traced cubins)
#   bench-{pdl,nopdl}  the bench, ours only, graph timing, the read ceiling beside
# Carry: as n12. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s37/n15.sh n15 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-200}"
shift 2
TR=$PWD/build-bench/cubin-trace
trace() {
  part "tr-$1-$2" 40 env PTXFMHA_DECODE_PDL="$( [ "$1" = pdl ] && echo 1 || echo 0 )" PTXFMHA_CUBIN_DIR="$TR" \
    .deps/gpu/ptxfmha decode-trace --cell "$3" --splits "$4" --reps 5 --raw
}
for m in nopdl pdl; do
  trace "$m" d256-contig-s12 decode/d256/b1/kv131072/hq32hkv8/q1/contig 12
  trace "$m" d256-page64-s8 decode/d256/b1/kv131072/hq32hkv8/q1/page64 8
  trace "$m" d128wg-4k-s13 decode/d128/b1/kv4096/hq128hkv8/q4/contig 13
  trace "$m" d64-mha-s2 decode/d64/b32/kv8192/hq32hkv32/q4/contig 2
done
CELLS="decode/d256/b1/kv(32768|131072)/hq(32|128)hkv8/q1/page64/|decode/d128/b1/kv(4096|8192)/hq128hkv8/q4/contig/|decode/d64/b32/kv(8192|32768)/hq32hkv32/q4/contig/"
for m in nopdl pdl nopdl2 pdl2; do
  case $m in nopdl*) v=0 ;; *) v=1 ;; esac
  export PTXFMHA_DECODE_PDL=$v
  bench_cells "bench-$m" "$PWD/build-bench/cub" default "$CELLS"
done
unset PTXFMHA_DECODE_PDL
call_end
