#!/usr/bin/env bash
# What every prepared device call shares (sourced, not run): a call's script under
# bench/results/<dir>/ sources this file, runs its parts through `part`, and ends with
# `call_end`; its prepare.sh sources it too for `write_devrun_env` and `build_mutation`. Earlier
# calls' scripts (s9-s18, and s19's prepare.sh with its own mutate) spell the same steps out and
# stay as they ran.
#
# On the GPU-less machine (prepare.sh):
#   write_devrun_env CUBIN_DIR   .devrun/env.sh (untracked; delete after the call): the cuDNN
#                                library of the device machine's PyTorch, the test binary's
#                                source / build folders, the cubins to run (CUBIN_DIR) and the
#                                bench's read-ceiling cubin; $B the bench, $T the test binary
#                                (bench/gpu-bundle.sh builds both)
#   build_mutation NAME FILE SED-EXPR KERNEL...   build-mut/NAME/sm90a/fmha_decode_<KERNEL>_sm90a.cubin
#                                for each KERNEL, built in a temporary worktree of HEAD with
#                                `sed -i SED-EXPR` applied to FILE; stops the script where the
#                                edit changes nothing or a mutated cubin equals this tree's
#                                (build-bench/cub/sm90a: copy the real cubins there first)
# On the device machine (call.sh, run from the repository root with $OUT set by the tool):
#   call_begin RUN BUDGET        $R = $OUT/RUN, when.txt (date, GPU, clocks, driver; the card's
#                                uuid, serial, power limits, max clocks, ECC, PCIe), gpu-q.txt
#                                (nvidia-smi -q: ECC, power, clocks, performance, retired / remapped
#                                rows), the budget clock (seconds from now)
#   part NAME SECONDS CMD...     CMD with at most SECONDS (and what is left of the budget) into
#                                $R/NAME.txt; "NAME rc <exit status> <time>" to $R/parts.txt, or
#                                "NAME skipped" when the budget is spent
#   sanitize TOOL TESTS NAME SECONDS   compute-sanitizer TOOL over the test cases TESTS (-tc)
#   decode_bench NAME SECS BENCH CUBINS ARGS...   the timed decode grid (the flags the calls
#                                share) into $R/NAME.json; the three below are its uses
#   bench_cells NAME CUBIN_DIR VARIANTS FILTER   decode cells (full grid, graph timing, 4
#                                samples, cuDNN off) with those cubins into $R/NAME.json
#   ncu_profile NAME KERNEL VARIANTS FILTER   Nsight Compute of the 4th launch of KERNEL (regex
#                                of its name) in the bench's decode cells FILTER: speed of light,
#                                pipes, memory, warp states, scheduler, instructions, stalls per
#                                SASS line (tools/ncu_stalls.py) into $R/NAME-details.txt and
#                                $R/NAME-stalls.txt
#   ncu_launches NAME FILTER     Nsight Compute of the first 40 launches of the decode cells
#                                FILTER with cuDNN's first plan beside ours (launch shape,
#                                occupancy, speed of light, DRAM / L2 traffic) into
#                                $R/NAME-details.txt
#   ncu_raw NAME VARIANTS FILTER [N]   Nsight Compute raw metrics of the first N (12) decode
#                                launches (split and combine kernels: time, grid, DRAM bytes,
#                                SM active cycles mean / max) as CSV in $R/NAME.txt
#   branch_check DIR FILTER REPS   a branch built by prepared-s29/prepare-n2.sh into DIR
#                                ({bin,cub}): its gpu-decode suite (part tests), memcheck /
#                                racecheck / synccheck of the decode sanitizer shapes (san-*),
#                                then this tree's bench and the branch's alternating REPS times
#                                on the decode cells FILTER (a1 b1 a2 b2 ..., cuDNN off)
#   branch_cudnn NAME DIR FILTER the branch in DIR with cuDNN autotuned beside, decode cells
#                                FILTER (full grid, graph timing, 4 samples) into $R/NAME.json
#   pages_ab DIR                 a paged-cache branch in DIR (s30 / s31 cp.async for pages):
#                                branch_check on one-token cells in pages of 16 and 64 (d64 /
#                                d128 / d256, 32/32 and 32/8, batch 8 / 32 / 128, kv 8k / 32k) and
#                                8 contiguous d128 cells (the drift), 3 rounds; branch_cudnn
#                                cudnn-b on d64 / d128 in pages at batch 32 / 128
#   survey_tail DIR FLAGS BKV MIN_LEFT DONE...   tools/decode-survey.sh (FLAGS, chunks' batch /
#                                kv regex BKV; SURVEY_DIMS / SURVEY_CACHE from the environment)
#                                over what is left of the budget into $R/DIR, the
#                                chunks DONE (finished by earlier calls) seeded into its done file;
#                                nothing when MIN_LEFT seconds are not left
#   survey_two_pass [-- DONE1...] [--- DONE2...]   the survey at less device time (s29): pass 1
#                                every cell, bf16 cache, cuDNN autotuned beside; pass 2 the e4m3
#                                variant alone on the fp8 target's cells (batch 8-128, kv
#                                8k-128k), cuDNN off. DONE1 / DONE2: the chunks earlier calls
#                                finished in each pass
#   call_end                     clocks, power and temperature after the call; $OUT/RUN.tgz
set -u

write_devrun_env() {
  mkdir -p .devrun
  cat > .devrun/env.sh <<ENV
export PTXFMHA_CUDNN_LIB=/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib
export PTXFMHA_SOURCE_DIR=\$PWD PTXFMHA_BUILD_DIR=build-bench
export PTXFMHA_CUBIN_DIR=\$PWD/$1 PTXFMHA_BENCH_CUBIN_DIR=\$PWD/build-bench/cubin-bench
B=\$PWD/.deps/gpu/ptxfmha_bench; T=\$PWD/.deps/gpu/ptxfmha_tests
ENV
}

build_mutation() {
  local name=$1 file=$2 expr=$3
  shift 3
  local wt
  wt=$(mktemp -d)/wt-mut
  mkdir -p "build-mut/$name/sm90a"
  git worktree add -q "$wt" HEAD
  sed -i "$expr" "$wt/$file"
  git -C "$wt" diff --quiet && { echo "mutation $name did not apply"; exit 1; }
  make -C "$wt" -j2 BUILD="$wt/build" $(for k in "$@"; do echo "$wt/build/cubin/sm90a/fmha_decode_${k}_sm90a.cubin"; done)
  for k in "$@"; do
    cp "$wt/build/cubin/sm90a/fmha_decode_${k}_sm90a.cubin" "build-mut/$name/sm90a/"
    cmp -s "build-mut/$name/sm90a/fmha_decode_${k}_sm90a.cubin" "build-bench/cub/sm90a/fmha_decode_${k}_sm90a.cubin" \
      && { echo "mutated cubin $k equals the real one"; exit 1; }
  done
  git worktree remove --force "$wt"
}

call_begin() {
  START=$(date +%s)
  . .devrun/env.sh
  RUN=$1
  BUDGET=${2:-540}
  R=$OUT/$RUN
  mkdir -p "$R"
  date -u > "$R/when.txt"
  nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv >> "$R/when.txt"
  # which card (the lent H100s come in two kinds, read ceilings ~3.08 and ~3.18 TB/s: s40)
  nvidia-smi --query-gpu=uuid,serial,pci.bus_id,vbios_version,power.limit,enforced.power.limit,clocks.max.sm,clocks.max.mem,ecc.mode.current,pcie.link.gen.current,pcie.link.width.current,memory.total \
    --format=csv >> "$R/when.txt" 2>&1 || true
  nvidia-smi -q -d ECC,POWER,CLOCK,PERFORMANCE,PAGE_RETIREMENT,ROW_REMAPPER > "$R/gpu-q.txt" 2>&1 || true
}

part() {
  local name=$1 secs=$2
  shift 2
  local left=$((START + BUDGET - 10 - $(date +%s)))
  if [ "$left" -lt 10 ]; then echo "$name skipped" >> "$R/parts.txt"; return; fi
  [ "$secs" -gt "$left" ] && secs=$left
  timeout "$secs" "$@" > "$R/$name.txt" 2>&1
  echo "$name rc $? $(date -u +%T)" >> "$R/parts.txt"
}

sanitize() {
  local tool=$1 tests=$2 name=$3 secs=$4 extra=()
  [ "$tool" = racecheck ] && extra=(--racecheck-report all)
  [ "$tool" = memcheck ] && extra=(--report-api-errors no)
  local san
  san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  part "$name-$tool" "$secs" "$san" --tool "$tool" "${extra[@]}" "$T" "-tc=$tests"
}

# sanitizers TESTS NAME SECS: memcheck, racecheck and synccheck in turn (parts NAME-TOOL).
sanitizers() {
  local tool
  for tool in memcheck racecheck synccheck; do sanitize "$tool" "$1" "$2" "$3"; done
}

# decode_bench NAME SECS BENCH CUBINS ARGS...: the timed decode grid (full grid, CUDA-graph timing,
# 4 samples x 2 ms) of BENCH with CUBINS into $R/NAME.json, ARGS added (filter, cuDNN, variants).
decode_bench() {
  local name=$1 secs=$2 bench=$3 cubins=$4
  shift 4
  part "$name" "$secs" env PTXFMHA_CUBIN_DIR="$cubins" "$bench" --ptxfmha_suite=decode --ptxfmha_decode_grid=full \
    --ptxfmha_timing=graph --ptxfmha_samples=4 --ptxfmha_batch_ms=2 "$@" \
    "--benchmark_out=$R/$name.json" --benchmark_out_format=json
}

bench_cells() {
  decode_bench "$1" 600 "$B" "$2" --ptxfmha_cudnn=0 "--ptxfmha_decode_variants=$3" "--benchmark_filter=$4"
}

# The decode A/Bs s43-s44 repeat (cuDNN off, one process):
#   ab_d64_b32 VARIANTS   d64 batch 32, 32/8 and 128/8 x 1, contiguous, kv 8k / 32k
#   ab_tma                the plan (cp.async) against `tma` boxes: contiguous d64 / d128, 32/8 and
#                         128/8 x 1, batch 8 / 32 / 128, kv 8k / 32k
#   ab_d128_wg_b1         the d128 _wg batch-1 plan against 13 and 16 splits (128/8 x 4, kv 4k / 8k)
ab_d64_b32() {
  bench_cells d64-128-8 "$PTXFMHA_CUBIN_DIR" "$1" "decode/d64/b32/kv(8192|32768)/hq(128|32)hkv8/q1/contig/"
}
ab_tma() {
  bench_cells tma-ab "$PTXFMHA_CUBIN_DIR" "default,tma" \
    "decode/(d64|d128)/b(8|32|128)/kv(8192|32768)/hq(32|128)hkv8/q1/contig/"
}
ab_d128_wg_b1() {
  bench_cells d128-wg-b1 "$PTXFMHA_CUBIN_DIR" "default,s13,s16" \
    "decode/d128/b1/kv(4096|8192)/hq128hkv8/q4/(contig|page64|page16)/"
}

ncu_profile() {
  local name=$1 kernel=$2 variants=$3 filter=$4 rep=/tmp/$1
  local ncu
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  part "$name" 120 "$ncu" --kernel-name "regex:$kernel\$" --launch-skip 3 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
    --section WarpStateStats --section SchedulerStats --section InstructionStats --section SourceCounters \
    --section LaunchStats --section Occupancy -o "$rep" -f "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full \
    --ptxfmha_cudnn=0 --ptxfmha_samples=3 "--ptxfmha_decode_variants=$variants" "--benchmark_filter=$filter"
  [ -f "$rep.ncu-rep" ] || return 0
  "$ncu" --import "$rep.ncu-rep" --page details --print-details all > "$R/$name-details.txt" 2>&1 \
    || "$ncu" --import "$rep.ncu-rep" --page details > "$R/$name-details.txt" 2>&1
  "$ncu" --import "$rep.ncu-rep" --page source --csv --print-source sass > "$rep.csv" 2>&1
  python3 tools/ncu_stalls.py "$rep.csv" > "$R/$name-stalls.txt" 2>&1
}

ncu_launches() {
  local name=$1 filter=$2 rep=/tmp/$1 ncu
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  part "$name" 150 "$ncu" --launch-count 40 --section SpeedOfLight --section LaunchStats --section Occupancy \
    --section MemoryWorkloadAnalysis -o "$rep" -f "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full \
    --ptxfmha_cudnn=1 --ptxfmha_cudnn_max_plans=1 --ptxfmha_samples=1 "--benchmark_filter=$filter"
  [ -f "$rep.ncu-rep" ] && "$ncu" --import "$rep.ncu-rep" --page details > "$R/$name-details.txt" 2>&1
  return 0
}

# ncu_raw NAME VARIANTS FILTER [LAUNCHES]: per-launch raw metrics of the decode kernels (split and
# combine: time, grid, DRAM bytes read / written, SM active cycles mean and max) under Nsight Compute
# at the device's own clocks, as CSV in NAME's log; environment set by the caller (e.g.
# PTXFMHA_DECODE_HO_CHUNKS) reaches the bench.
ncu_raw() {
  local name=$1 variants=$2 filter=$3 launches=${4:-12} ncu
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  part "$name" 60 "$ncu" --clock-control none --kernel-name regex:fmha_decode --launch-count "$launches" --csv \
    --page raw --metrics gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__bytes_write.sum,sm__cycles_active.avg,sm__cycles_active.max \
    "$B" --ptxfmha_suite=decode --ptxfmha_decode_grid=full --ptxfmha_ceiling=0 --ptxfmha_samples=1 --ptxfmha_cudnn=0 \
    "--ptxfmha_decode_variants=$variants" "--benchmark_filter=$filter"
}

branch_check() {
  local ca=$1 filter=$2 reps=$3 i side
  export LD_LIBRARY_PATH=$PWD/.deps/benchmark/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}  # its RUNPATH names the worktree
  part tests 200 env PTXFMHA_CUBIN_DIR="$ca/cub" "$ca/bin/ptxfmha_tests" -ts=gpu-decode
  T="$ca/bin/ptxfmha_tests" PTXFMHA_CUBIN_DIR="$ca/cub" sanitizers "decode gpu: sanitizer shapes*" san 90
  for i in $(seq 1 "$reps"); do
    for side in a b; do
      local bench=$B cub=$PWD/build-bench/cub
      [ "$side" = b ] && bench=$ca/bin/ptxfmha_bench cub=$ca/cub
      decode_bench "$side$i" 120 "$bench" "$cub" --ptxfmha_cudnn=0 "--benchmark_filter=$filter"
    done
  done
}

branch_cudnn() {
  decode_bench "$1" 150 "$2/bin/ptxfmha_bench" "$2/cub" "--benchmark_filter=$3"
}

pages_ab() {
  branch_check "$1" "decode/(d(64|128|256)/b(8|32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/page(16|64)|d128/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/contig)/" 3
  branch_cudnn cudnn-b "$1" "decode/d(64|128)/b(32|128)/kv(8192|32768)/hq32hkv(32|8)/q1/page(16|64)/"
}

survey_tail() {
  local dir=$R/$1 flags=$2 bkv=$3 min_left=$4 tag c left
  shift 4
  tag=$(printf '%s' "${SURVEY_CACHE:+$SURVEY_CACHE }$flags $bkv" | tr -c 'A-Za-z0-9' '_' | cut -c1-60)  # decode-survey.sh's
  mkdir -p "$dir"
  for c in "$@"; do echo "$c" >> "$dir/done-$tag"; done
  left=$((START + BUDGET - 25 - $(date +%s)))
  [ "$left" -gt "$min_left" ] || return 0
  SURVEY_MIN_LEFT=$min_left SURVEY_BATCH_KV="$bkv" PTXFMHA_BENCH=$B \
    bash tools/decode-survey.sh "$dir" "$left" $flags
}

survey_two_pass() {
  local d1=() d2=() to=0 c
  for c in "$@"; do
    case "$c" in
      --) to=1 ;;
      ---) to=2 ;;
      *) if [ "$to" = 1 ]; then d1+=("$c"); elif [ "$to" = 2 ]; then d2+=("$c"); fi ;;
    esac
  done
  survey_tail survey "--ptxfmha_decode_variants=default" '[^/]+/[^/]+' 100 ${d1[@]+"${d1[@]}"}
  survey_tail fp8 "--ptxfmha_decode_variants=e4m3 --ptxfmha_cudnn=0" \
    'b(8|32|64|128)/kv(8192|32768|131072)' 60 ${d2[@]+"${d2[@]}"}
}

call_end() {
  date -u >> "$R/when.txt"
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> "$R/when.txt"
  (cd "$OUT" && tar czf "$RUN.tgz" "$RUN" && rm -rf "$RUN")
}
