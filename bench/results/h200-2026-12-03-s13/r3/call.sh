#!/usr/bin/env bash
# s13 call 3: e4m3 beside bf16 at batch 8, kv 8k / 32k (the fp8 target's smallest cells), every
# head dim, heads, token count and cache; one bench process, cuDNN off.
set -u
. .devrun/env.sh
RUN=$1; LIM=${2:-380}
R=$OUT/$RUN; mkdir -p $R
date -u > $R/when.txt; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,driver_version --format=csv >> $R/when.txt
timeout $LIM $B --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 \
  --ptxfmha_cudnn=0 --ptxfmha_decode_variants=default,e4m3 '--benchmark_filter=decode/d(128|64|256)/b8/kv(8192|32768)/' \
  --benchmark_out=$R/b8.json --benchmark_out_format=json > $R/b8.txt 2>&1; echo "rc $?" >> $R/when.txt
date -u >> $R/when.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $R/when.txt
cd $OUT && tar czf $RUN.tgz $RUN && rm -rf $RUN
