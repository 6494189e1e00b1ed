#!/usr/bin/env bash
# s39 n3 (prepared, not run in s39: no device time left), after n2 (2026-12-07 15:10 UTC, H100):
# the plan runs the bf16 d64 two-heads row where its two-heads grid covers the SMs
# (decode_prefers_two_heads_bf16); n2 timed it against the old plan (0.969-1.004x on 40 cells)
# but its cuDNN part, the full gpu-decode suite and memcheck were cut by the call's budget.
#   tests           the gpu-decode suite (main, the rule in the plan; 15 cases ran in n2 in 240 s)
#   h2-memcheck     memcheck of both two-heads threshold tests (e4m3 and bf16, one helper since
#                   82d173a: its e4m3 plan-row check has not run on a GPU)
#   h2-d128-N       the plan's d128 row against the named d128 _h2 row (one CTA per SM, 512
#                   contiguous bytes a key; last timed before the 128-byte L2 promotion fix,
#                   H200 2026-12-02: 1-2% slower) on 10 d128 cells at batch 8-128 that missed
#                   cuDNN in the s35 table (d128 reads ~99% of the ceiling there, cuDNN 100-102%)
# Then n4.sh (cuDNN beside the moved cells). Carry: bench/results/prepared-s23/prepare.sh. Device
# call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s39/n3.sh n3 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
part tests 420 "$T" -ts=gpu-decode
sanitize memcheck "*two-heads d64 row*,*bf16 d64 two-heads row*" h2 150
H2="decode/d128/b32/kv32768/hq32hkv32/q1/page64/|decode/d128/b128/kv32768/hq128hkv8/q1/contig/"
H2="$H2|decode/d128/b128/kv4096/hq32hkv32/q1/page64/|decode/d128/b128/kv8192/hq32hkv32/q4/contig/"
H2="$H2|decode/d128/b64/kv8192/hq32hkv32/q4/contig/|decode/d128/b64/kv4096/hq32hkv32/q4/contig/"
H2="$H2|decode/d128/b32/kv8192/hq32hkv32/q4/page64/|decode/d128/b64/kv8192/hq32hkv32/q1/page64/"
H2="$H2|decode/d128/b128/kv8192/hq32hkv32/q4/page64/|decode/d128/b8/kv32768/hq32hkv32/q4/contig/"
for i in 1 2; do bench_cells "h2-d128-$i" "$PTXFMHA_CUBIN_DIR" "default,k=d128_h2" "$H2"; done
call_end
