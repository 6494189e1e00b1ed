#!/usr/bin/env bash
# s39 n3 (prepared, not run in s39: no device time left), after n2 (2026-12-07 15:10 UTC, H100):
# the plan runs the bf16 d64 two-heads row where its two-heads grid covers the SMs
# (decode_prefers_two_heads_bf16); n2 timed it against the old plan (0.969-1.004x on 40 cells)
# but its cuDNN part, the full gpu-decode suite and memcheck were cut by the call's budget.
#   tests           the gpu-decode suite (main, the rule in the plan; 15 cases ran in n2 in 240 s)
#   h2-memcheck     memcheck of both two-heads threshold tests (e4m3 and bf16, one helper since
#                   82d173a: its e4m3 plan-row check has not run on a GPU)
# Then n4.sh (cuDNN beside the moved cells). Carry: bench/results/prepared-s23/prepare.sh. Device
# call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s39/n3.sh n3 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
part tests 420 "$T" -ts=gpu-decode
sanitize memcheck "*two-heads d64 row*,*bf16 d64 two-heads row*" h2 150
call_end
