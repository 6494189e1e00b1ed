#!/usr/bin/env bash
# s29's third call (H100 expected): the K / V boxes of a contiguous cache. r2: the L2 promotion
# of 256 B 0.8% faster than 128 B on the H100 (the H200 had 128 B 4-8% ahead), and s1's pages of
# 16 (16-key boxes) up to 1% faster than contiguous (64-key boxes) on the same cells: the order
# in which a tile's 128-byte half rows reach the memory may be what cuDNN (cp.async, whole
# 256-byte rows per warp load) does better. Each process the same 32 cells x {bf16, e4m3}:
#   base      main (64-key boxes, per column block K then V, 128 B promotion)
#   box16 / box32   PTXFMHA_DECODE_BOX_ROWS (host override, contiguous caches)
#   kkvv      build-mut/kkvv: a box's K column blocks issued before V's (HEADS == 1 rows)
#   kkvv16    both;   box16-256   16-key boxes and 256 B promotion;   base2   drift check
#   cudnn16   16-key boxes with cuDNN autotuned beside, the 1-token cells
# Carry: prepare.sh's tar plus build-mut/kkvv. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s29/r3.sh r3 450
. bench/devcall.sh
call_begin "$1" "${2:-450}"
F="decode/(d(64|128|256)/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1|d128/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q4)/contig/"
C="$PWD/build-bench/cub"; K="$PWD/build-mut/kkvv"; V="default,e4m3"
bench_cells base "$C" "$V" "$F"
PTXFMHA_DECODE_BOX_ROWS=16 bench_cells box16 "$C" "$V" "$F"
PTXFMHA_DECODE_BOX_ROWS=32 bench_cells box32 "$C" "$V" "$F"
bench_cells kkvv "$K" "$V" "$F"
PTXFMHA_DECODE_BOX_ROWS=16 bench_cells kkvv16 "$K" "$V" "$F"
PTXFMHA_DECODE_BOX_ROWS=16 PTXFMHA_DECODE_L2_PROMOTION=256 bench_cells box16-256 "$C" "$V" "$F"
bench_cells base2 "$C" "$V" "$F"
PTXFMHA_DECODE_BOX_ROWS=16 part cudnn16 200 "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full \
  --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 \
  "--benchmark_filter=decode/d(64|128|256)/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/contig/" \
  "--benchmark_out=$R/cudnn16.json" --benchmark_out_format=json
call_end
