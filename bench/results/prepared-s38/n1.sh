#!/usr/bin/env bash
# s38 n1: the _ho rows (chunks handed out at run time, ptx/body/sm90_decode/ho_on.ptxh), first
# run. s37 found the d256 batch-1 split grids ending 7-10% after their median CTA, on a few slow
# SMs; the _ho rows let a unit's CTAs take its chunks from a counter.
#   tests-ho        the GPU test of the _ho rows (reference, determinism, any CTA count the
#                   same bits, the refusal); memcheck and synccheck of it
#   tests-decode    the gpu-decode suite (the parameter block grew to 640 bytes)
#   ab-dD-kK        the plan's row against the _ho row of its head dim at K chunks per CTA (the
#                   plan's own CTA count), batch-1 GQA / MHA cells and one d64 batch-32 cell
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s38/n1.sh n1 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-480}"
shift 2
part tests-ho 120 "$T" "-tc=*chunks handed out*"
part tests-decode 150 "$T" "-tc=decode gpu*" "-tce=*sanitizer*"
sanitize memcheck "*chunks handed out*" ho 90
sanitize synccheck "*chunks handed out*" ho 90
D256="decode/d256/b1/kv131072/hq32hkv8/q1/page64/|decode/d256/b1/kv131072/hq32hkv32/q4/page64/|decode/d256/b1/kv32768/hq32hkv8/q1/page64/"
D128="decode/d128/b1/kv131072/hq32hkv8/q1/page64/|decode/d128/b8/kv32768/hq32hkv8/q1/page64/"
D64="decode/d64/b32/kv32768/hq32hkv32/q4/contig/|decode/d64/b1/kv131072/hq32hkv8/q4/page64/"
for k in 8 16 4; do
  export PTXFMHA_DECODE_HO_CHUNKS=$k
  bench_cells "ab-d256-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d256_ho" "$D256"
  bench_cells "ab-d128-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d128_ho" "$D128"
  bench_cells "ab-d64-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d64_ho" "$D64"
done
unset PTXFMHA_DECODE_HO_CHUNKS
call_end
