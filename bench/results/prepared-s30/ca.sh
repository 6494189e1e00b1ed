#!/usr/bin/env bash
# s30's call for branch s30-cpasync (s29-cpasync + the noinc arrival): the plain bf16 decode rows
# load a contiguous cache with cp.async, each producer lane arriving on full[s] (32 arrivals) with
# cp.async.mbarrier.arrive.noinc. s29's inc form (lane 0's arrival on a count of 1) passed the
# branch's gpu-decode suite on the H100 (s30 call n2, 25 of 25) but synccheck reported "Barrier
# overflow" on every producer lane, and n2's branch bench did not start (its RUNPATH named the
# build worktree: the same libbenchmark is found through LD_LIBRARY_PATH here). Parts:
#   tests     the branch's gpu-decode suite with its cubins
#   san-*     memcheck / racecheck / synccheck of the decode sanitizer shapes with the branch
#   a1 b1 .. a3 b3   main and the branch alternating, n2.sh's 56 cells (48 contiguous, 8 in pages of
#             16 where the branch keeps TMA)
#   cudnn-b   the branch with cuDNN autotuned beside, the contiguous 1-token cells
#   then the survey's two passes (main) over what is left
# Carry: prepared-s23/prepare.sh, then prepared-s29/prepare-n2.sh s30-cpasync. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s30/ca.sh ca 570 [-- DONE1..] [--- DONE2..]
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
export LD_LIBRARY_PATH=$PWD/.deps/benchmark/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
CA="$PWD/build-mut/ca"
part tests 200 env PTXFMHA_CUBIN_DIR="$CA/cub" "$CA/bin/ptxfmha_tests" -ts=gpu-decode
T="$CA/bin/ptxfmha_tests" PTXFMHA_CUBIN_DIR="$CA/cub" sanitizers "decode gpu: sanitizer shapes*" san 90
F="decode/(d(64|128|256)/b(8|32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/contig|d128/b(8|32|128)/kv(8192|32768)/hq(64|128)hkv8/q1/contig|d128/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/page16)/"
run_side() {  # NAME BENCH CUBINS
  part "$1" 120 env PTXFMHA_CUBIN_DIR="$3" "$2" --ptxfmha_suite=decode --ptxfmha_decode_grid=full \
    --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 --ptxfmha_cudnn=0 \
    "--benchmark_filter=$F" "--benchmark_out=$R/$1.json" --benchmark_out_format=json
}
for i in 1 2 3; do
  run_side "a$i" "$B" "$PWD/build-bench/cub"
  run_side "b$i" "$CA/bin/ptxfmha_bench" "$CA/cub"
done
part cudnn-b 150 env PTXFMHA_CUBIN_DIR="$CA/cub" "$CA/bin/ptxfmha_bench" --ptxfmha_suite=decode \
  --ptxfmha_decode_grid=full --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 \
  "--benchmark_filter=decode/d(64|128)/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/contig/" \
  "--benchmark_out=$R/cudnn-b.json" --benchmark_out_format=json
survey_two_pass "$@"
call_end
