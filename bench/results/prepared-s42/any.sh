#!/usr/bin/env bash
# s42: whichever card the tool lends (a call free to take an H100 or an H200 fails over between
# them, and each failed start cost 180 device seconds in s42): an H200 runs prepared-s41/n9.sh (the
# d64 row and cp.async-vs-TMA A/Bs, the headline grid, d128 survey chunks), an H100
# prepared-s40/n7.sh (memcheck of the d128 two-heads test to its end, the contiguous re-survey).
# Carry: bench/results/prepared-s23/prepare.sh. Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s42/any.sh NAME BUDGET
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  exec bash bench/results/prepared-s41/n9.sh "$1-h200" "$2"
else
  exec bash bench/results/prepared-s40/n7.sh "$1-h100" "$2"
fi
