#!/usr/bin/env bash
# s35's second call (prepared after n7 ran on an H100, 2026-12-07 03:16 UTC). n7's placement probe
# at 256 threads per CTA read 21-31 GB/s per CTA, below the 24-48 GB/s that the d256 split kernel
# reads per CTA at 64-128 CTAs, and showed no loss at 80-104 CTAs and no difference between CTAs
# that share a TPC and CTAs alone. This call asks the same at 512 and 1024 threads per CTA (2x
# and 4x the loads in flight), where a CTA can ask for more than its share of the read bandwidth.
# Carry: bench/results/prepared-s23/prepare.sh on main as of s35 (the CLI's --threads). Device call:
#   tar xJf .devrun/carry.tar.xz && bash bench/results/prepared-s35/n8.sh n8 BUDGET
. bench/devcall.sh
call_begin "$1" "${2:-300}"
shift 2
part placement-t1024 60 .deps/gpu/ptxfmha placement --threads 1024 --raw
part placement-t512 60 .deps/gpu/ptxfmha placement --threads 512 --raw
part placement-t1024-4mib 60 .deps/gpu/ptxfmha placement --threads 1024 --cta-mib 4 --raw
call_end
