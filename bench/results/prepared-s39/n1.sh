#!/usr/bin/env bash
# s39 n1 (s38's n3, prepared 2026-12-07 on branch s38-ho-region, not run there), after s38 n2
# (2026-12-07 11:29 UTC, H100): taking tickets one chunk ahead did not remove the _ho rows' loss;
# Nsight Compute (d64 batch 1, kv 128k, 4 chunks a CTA) showed every CTA ~10% slower (SM active
# cycles 171.8k against 155.1k at the same bytes), not a tail. Two questions:
#  1. Is the cost per chunk or per tile? At one chunk a CTA (k=1) the _ho row reads the plan's
#     splits in the plan's order (ticket t is chunk t = split t) with every per-tile hook of the
#     row: at the plan's time the cost is the chunk switch, else it is in the loop.
#  2. Does the order of the chunks matter? In ticket order the unit's CTAs read one window of
#     consecutive chunks at a time; region-major tickets (ho_on.ptxh HO_TICKET_CHUNK) start the S
#     first tickets where the S splits start, as a split grid reads.
#   tests-ho        the GPU test of the _ho rows (same chunks, any CTA count: the same bits), with
#                   region-major tickets
#   ab-R-dD-kK-N    the plan's row and the _ho row, K chunks per CTA; R inorder: main's _ho
#                   cubins (build-bench/cub-inorder), R region: this tree's; two rounds
#   ncu-dD-kK       split and combine kernel times (region-major), d64 batch 1 kv 128k
#   tests-var       the named rows' GPU test (every A/B row, the new bf16 d64 _h2 among them)
#   h2-N            the plan's d64 row against the bf16 d64 _h2 row (two adjacent KV heads per
#                   CTA: 256 contiguous bytes a key, TMA) on d64 cells at batch 8-128 that missed
#                   cuDNN in the s35 table; two rounds
#   san-*           racecheck / synccheck of the A/B rows' sanitizer shapes (the _h2 row there)
# Carry: bench/results/prepared-s23/prepare.sh, then build-bench/cub-inorder (main's cubins).
# Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s39/n1.sh n1 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-300}"
shift 2
part tests-ho 120 "$T" "-tc=*chunks handed out*"
part tests-var 120 "$T" "-tc=gpu decode variants*"
H2="decode/d64/b32/kv1024/hq128hkv8/q1/contig/|decode/d64/b32/kv8192/hq128hkv8/q1/contig/"
H2="$H2|decode/d64/b32/kv32768/hq32hkv32/q4/contig/|decode/d64/b64/kv8192/hq32hkv32/q4/contig/"
H2="$H2|decode/d64/b64/kv32768/hq128hkv8/q1/page64/|decode/d64/b64/kv32768/hq32hkv8/q1/page64/"
H2="$H2|decode/d64/b128/kv32768/hq64hkv8/q1/contig/|decode/d64/b8/kv8192/hq32hkv32/q1/contig/"
H2="$H2|decode/d64/b32/kv8192/hq32hkv8/q1/page16/|decode/d64/b128/kv4096/hq32hkv32/q4/page64/"
bench_cells h2-1 "$PTXFMHA_CUBIN_DIR" "default,k=d64_h2" "$H2"
D256="decode/d256/b1/kv131072/hq32hkv8/q1/page64/|decode/d256/b1/kv32768/hq32hkv8/q1/page64/|decode/d256/b8/kv32768/hq32hkv8/q1/page64/"
D128="decode/d128/b1/kv131072/hq32hkv8/q1/page64/|decode/d128/b8/kv32768/hq32hkv8/q1/page64/"
D64="decode/d64/b32/kv32768/hq32hkv32/q4/contig/|decode/d64/b1/kv131072/hq32hkv8/q4/page64/"
ab() {  # ab SIDE K ROUND
  local dir=$PTXFMHA_CUBIN_DIR
  [ "$1" = inorder ] && dir=$PWD/build-bench/cub-inorder
  export PTXFMHA_DECODE_HO_CHUNKS=$2
  bench_cells "ab-$1-d256-k$2-$3" "$dir" "default,k=d256_ho" "$D256"
  bench_cells "ab-$1-d128-k$2-$3" "$dir" "default,k=d128_ho" "$D128"
  bench_cells "ab-$1-d64-k$2-$3" "$dir" "default,k=d64_ho" "$D64"
}
for rnd in 1 2; do
  ab region 1 $rnd      # one chunk a CTA: the same chunks in the same order on both sides
  for k in 4 16; do ab inorder $k $rnd; ab region $k $rnd; done
done
bench_cells h2-2 "$PTXFMHA_CUBIN_DIR" "default,k=d64_h2" "$H2"
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
for k in 1 4; do
  export PTXFMHA_DECODE_HO_CHUNKS=$k
  part "ncu-d64-k$k" 60 "$NCU" --clock-control none --kernel-name regex:fmha_decode --launch-count 12 --csv --page raw \
    --metrics gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__bytes_write.sum,sm__cycles_active.avg,sm__cycles_active.max \
    "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_ceiling=0 --ptxfmha_samples=1 --ptxfmha_cudnn=0 \
    "--ptxfmha_decode_variants=default,k=d64_ho" "--benchmark_filter=decode/d64/b1/kv131072/hq32hkv8/q4/page64/"
done
unset PTXFMHA_DECODE_HO_CHUNKS
sanitize racecheck "gpu decode e4m3: sanitizer shapes*" san 90
sanitize synccheck "gpu decode e4m3: sanitizer shapes*" san 90
call_end
