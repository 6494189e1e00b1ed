#!/usr/bin/env bash
# The rest of s29's H100 survey at less device time (prepared in s29, not run): survey.sh ran the
# e4m3 variant on every cell; the fp8 target needs it at batch >= 8 and kv >= 8k only (12 of a
# chunk's 30 batch / kv pairs), and its float64 reference costs about what the bf16 one does. So:
#   pass 1  every cell, bf16 cache, cuDNN autotuned beside (the vs-cuDNN, ceiling, batch-1 targets)
#   pass 2  the e4m3 variant alone at batch 8-128 x kv 8k-128k, cuDNN off (the fp8 target; the
#           bf16 side of the ratio comes from pass 1)
# Chunks already done are named after `--` as pass-1 chunks and after `---` as pass-2 chunks
# (s29 finished both for: d128 x all heads x 1 / 4 tokens but 128/8 x 4, d64 32/32 x 1 / 4).
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s29/survey2.sh RUN BUDGET \
#     -- d128_hq32hkv32_q1 ... --- d128_hq32hkv32_q1 ...
. bench/devcall.sh
call_begin "$1" "${2:-570}"
shift 2
survey_two_pass "$@"
call_end
