#!/usr/bin/env bash
# s41 n8: the read probes (bench/read_probe.h) beside ours, cuDNN and the ceiling kernel.
#   probe-mutate   one cell with PTXFMHA_BENCH_PROBE_MUTATE=1 (each sequence's last tile unread): every
#                  probe must be refused by the XOR check ("NOT TIMED")
#   probes-d128    contiguous d128, batch 32 / 64 / 128, kv 8k / 32k, 32/32 x 1 and 4, 32/8, 128/8 x 1
#                  (the d128 contiguous misses: cuDNN reads 1-2% past the ceiling kernel), cuDNN
#                  autotuned beside, 8 samples; probes ld, ca32, ca64, ca128 (the plan's splits) and ca32x1,
#                  ca128x1 (one split per head, cuDNN's grid)
#   probes-d64     contiguous d64 batch 32, kv 8k, 128/8 and 32/32 x 1 (the worst d64 misses)
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s41/n8.sh n8 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
P="--ptxfmha_read_probes=ld,ca32,ca64,ca128,ca32x1,ca128x1"
PTXFMHA_BENCH_PROBE_MUTATE=1 decode_bench probe-mutate 60 "$B" "$PTXFMHA_CUBIN_DIR" --ptxfmha_cudnn=0 "$P" \
  "--benchmark_filter=decode/d128/b32/kv8192/hq32hkv8/q1/contig/"
decode_bench probes-d128 330 "$B" "$PTXFMHA_CUBIN_DIR" "$P" --ptxfmha_samples=8 \
  "--benchmark_filter=decode/d128/b(32|64|128)/kv(8192|32768)/(hq32hkv32/q(1|4)|hq32hkv8/q1|hq128hkv8/q1)/contig/"
decode_bench probes-d64 90 "$B" "$PTXFMHA_CUBIN_DIR" "$P" --ptxfmha_samples=8 \
  "--benchmark_filter=decode/d64/b32/kv8192/(hq128hkv8|hq32hkv32)/q1/contig/"
call_end
