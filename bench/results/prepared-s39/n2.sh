#!/usr/bin/env bash
# s39 n2, after n1 (2026-12-07 14:28 UTC, H100): the bf16 d64 _h2 row, named, ran 0.962-0.993x the
# plan's time at 256-2048 two-heads units (99.4-100% of the read ceiling), 0.991-1.011x at 128,
# 1.022x in pages of 16. Branch s39-h2-plan makes the plan run it where its two-heads grid covers
# the SMs (decode_prefers_two_heads_bf16: d64, contiguous or pages >= 64, <= 16 rows per head).
#   tests           the branch's gpu-decode suite
#   tests-h2        its new GPU test (the rule's turn: the plan's row has two heads exactly where
#                   the rule says, every case against the float64 reference), the named rows' test
#   aN / bN         main's bench (a: the plan before) and the branch's (b), alternated, on 44 d64
#                   cells the rule moves and 2 it does not (controls), cuDNN off
#   cudnn-b         the branch's plan with cuDNN autotuned beside, on 12 d64 cells that missed
#                   cuDNN in the s35 table and that the rule moves
#   h2-memcheck     compute-sanitizer memcheck of the new GPU test (ragged, empty, paged, split)
# Carry: bench/results/prepared-s23/prepare.sh, then bench/results/prepared-s29/prepare-n2.sh
# s39-h2-plan (the branch into build-mut/ca). Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s39/n2.sh n2 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-420}"
shift 2
ca=$PWD/build-mut/ca
export LD_LIBRARY_PATH=$PWD/.deps/benchmark/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}  # its RUNPATH names the worktree
part tests 240 env PTXFMHA_CUBIN_DIR="$ca/cub" "$ca/bin/ptxfmha_tests" -ts=gpu-decode
part tests-h2 120 env PTXFMHA_CUBIN_DIR="$ca/cub" "$ca/bin/ptxfmha_tests" "-tc=gpu decode: the bf16 d64 two-heads*,gpu decode variants*"
AB="decode/d64/b(32|64|128)/kv(8192|32768)/hq32hkv32/q(1|4)/contig/"
AB="$AB|decode/d64/b(64|128)/kv(8192|32768)/hq32hkv8/q(1|4)/(contig|page64)/"
AB="$AB|decode/d64/b(32|64|128)/kv(1024|32768)/hq64hkv8/q1/contig/"
AB="$AB|decode/d64/b(64|128)/kv(1024|8192)/hq128hkv8/q1/(contig|page64)/"
AB="$AB|decode/d64/b32/kv8192/hq32hkv8/q1/contig/|decode/d128/b64/kv8192/hq32hkv8/q1/contig/"
for i in 1 2; do
  decode_bench "a$i" 150 "$B" "$PWD/build-bench/cub" --ptxfmha_cudnn=0 "--benchmark_filter=$AB"
  decode_bench "b$i" 150 "$ca/bin/ptxfmha_bench" "$ca/cub" --ptxfmha_cudnn=0 "--benchmark_filter=$AB"
done
C="decode/d64/b32/kv32768/hq32hkv32/q4/contig/|decode/d64/b64/kv8192/hq32hkv32/q4/contig/"
C="$C|decode/d64/b128/kv8192/hq32hkv32/q4/contig/|decode/d64/b32/kv8192/hq32hkv32/q4/contig/"
C="$C|decode/d64/b64/kv32768/hq128hkv8/q1/contig/|decode/d64/b64/kv1024/hq128hkv8/q1/contig/"
C="$C|decode/d64/b128/kv32768/hq64hkv8/q1/contig/|decode/d64/b64/kv32768/hq128hkv8/q1/page64/"
C="$C|decode/d64/b64/kv32768/hq32hkv8/q1/page64/|decode/d64/b128/kv4096/hq32hkv32/q4/contig/"
C="$C|decode/d64/b64/kv8192/hq128hkv8/q1/contig/|decode/d64/b128/kv32768/hq32hkv8/q1/contig/"
branch_cudnn cudnn-b "$ca" "$C"
T="$ca/bin/ptxfmha_tests" PTXFMHA_CUBIN_DIR="$ca/cub" sanitize memcheck "gpu decode: the bf16 d64 two-heads*" h2 150
call_end
