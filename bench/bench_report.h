// The report: Google Benchmark counters and labels per entry (the JSON), and the final table.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <vector>

#include "bench_device.h"

namespace ptxfmha_bench {

struct Row {
  const Case* c;
  CaseState* cs;
};

// Fills one side's entry (kOurs or kCudnn) from its measurement: iteration times (per timed
// batch), counters, label. Skips the entry with the reason when it was not timed.
void report_entry(benchmark::State& state, const Case& c, const CaseState& cs, int side);

// The comparison table: a prefill block and a decode block, headline method.
void print_table(FILE* f, const std::vector<Row>& rows);

std::string fmt_num(double v, const char* f);

}  // namespace ptxfmha_bench
