#!/usr/bin/env bash
# s38 n2, after n1 (2026-12-07 10:40 UTC, H100): the _ho rows ran correct (every case within the
# bounds, the same bits over 1-12 CTAs per unit, memcheck / synccheck clean), but each chunk cost
# ~2 us (d64 batch 1 kv 128k, 16 chunks per CTA: 126 us against 92); n1's producer waited at
# every chunk for the counter's atom and then the block table's window. Now both are taken one
# chunk ahead (ho_on.ptxh: HO_PREFETCH).
#   tests-ho        the GPU test of the _ho rows
#   tests-decode    the rest of the gpu-decode cases (the combine kernel changed)
#   san-*           the sanitizer shapes (now with the _ho rows): racecheck, synccheck, memcheck
#   ab-dD-kK        the plan's row against the _ho row at K chunks per CTA (the plan's CTAs)
#   comb-*-R        the combine kernel's loads in flight: the base combine against this tree's
#   ncu-d64-kK      split and combine kernel times, d64 batch 1 kv 128k, the plan's and _ho
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s38/n2.sh n2 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-480}"
shift 2
part tests-ho 120 "$T" "-tc=*chunks handed out*"
D256="decode/d256/b1/kv131072/hq32hkv8/q1/page64/|decode/d256/b1/kv131072/hq32hkv32/q4/page64/"
D256="$D256|decode/d256/b1/kv32768/hq32hkv8/q1/page64/|decode/d256/b1/kv131072/hq32hkv8/q4/page64/"
D256="$D256|decode/d256/b1/kv131072/hq128hkv8/q1/page64/|decode/d256/b8/kv32768/hq32hkv8/q1/page64/"
D128="decode/d128/b1/kv131072/hq32hkv8/q1/page64/|decode/d128/b8/kv32768/hq32hkv8/q1/page64/"
D64="decode/d64/b32/kv32768/hq32hkv32/q4/contig/|decode/d64/b1/kv131072/hq32hkv8/q4/page64/"
for k in 16 4; do
  export PTXFMHA_DECODE_HO_CHUNKS=$k
  bench_cells "ab-d256-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d256_ho" "$D256"
  bench_cells "ab-d128-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d128_ho" "$D128"
  bench_cells "ab-d64-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d64_ho" "$D64"
done
# the combine kernel's loads in flight (combine.ptxh, s38: 4 LSEs and 16 partials a lane against
# 1 and 8; the same bits): the base combine cubins (build-bench/cub-oldcomb, built from 6b6b7b9's
# combine.ptxh with this tree's parameter block) against this tree's, alternated
export PTXFMHA_DECODE_HO_CHUNKS=16
for rnd in 1 2; do
  for side in old new; do
    dir=$PTXFMHA_CUBIN_DIR
    [ $side = old ] && dir=$PWD/build-bench/cub-oldcomb
    bench_cells "comb-$side-d64-$rnd" "$dir" "default,k=d64_ho" "decode/d64/b1/kv131072/hq32hkv8/q4/page64/"
    bench_cells "comb-$side-d128-$rnd" "$dir" "default,k=d128_ho" "decode/d128/b1/kv131072/hq32hkv8/q1/page64/"
    bench_cells "comb-$side-d256-$rnd" "$dir" "default,k=d256_ho" "decode/d256/b1/kv131072/hq32hkv8/q1/page64/"
  done
done
part tests-decode 150 "$T" "-tc=decode gpu*" "-tce=*sanitizer*,*chunks handed out*"
for tool in racecheck synccheck memcheck; do sanitize "$tool" "decode gpu: sanitizer shapes*" san 90; done
for k in 32 8; do
  export PTXFMHA_DECODE_HO_CHUNKS=$k
  bench_cells "ab-d256-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d256_ho" "$D256"
  bench_cells "ab-d128-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d128_ho" "$D128"
  bench_cells "ab-d64-k$k" "$PTXFMHA_CUBIN_DIR" "default,k=d64_ho" "$D64"
done
# where a chunk's cost goes: split and combine kernel times under Nsight Compute (d64 batch 1,
# kv 128k: 16 splits against 64 / 256 chunks)
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
for k in 4 16; do
  export PTXFMHA_DECODE_HO_CHUNKS=$k
  part "ncu-d64-k$k" 60 "$NCU" --clock-control none --kernel-name regex:fmha_decode --launch-count 12 --csv --page raw \
    --metrics gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__bytes_write.sum,sm__cycles_active.avg,sm__cycles_active.max \
    "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_ceiling=0 --ptxfmha_samples=1 --ptxfmha_cudnn=0 \
    "--ptxfmha_decode_variants=default,k=d64_ho" "--benchmark_filter=decode/d64/b1/kv131072/hq32hkv8/q4/page64/"
done
unset PTXFMHA_DECODE_HO_CHUNKS
call_end
