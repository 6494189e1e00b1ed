// Kernel table rows for the decode kernels on sm90a: the sm90a rows of ptx/manifest/sm90_decode.h
// (expanded by kernels_decode_rows.h), and their decode facts (decode_rows.h).
#include "kernels_decode_rows.h"

namespace ptxfmha {

namespace {
const KernelInfo kRows[] = {PTXFMHA_DECODE_ROWS(sm90a)};
const DecodeRowFacts kFacts[] = {PTXFMHA_DECODE_FACT_ROWS(sm90a)};
static_assert(sizeof(kRows) / sizeof(kRows[0]) == sizeof(kFacts) / sizeof(kFacts[0]),
              "one fact row per kernel row");
}  // namespace

KernelTable decode_kernels_sm90a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }
DecodeFactsTable decode_facts_sm90a() { return {kFacts, sizeof(kFacts) / sizeof(kFacts[0])}; }

}  // namespace ptxfmha
