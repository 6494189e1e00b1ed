// Kernel table rows for the decode kernels on sm100a: the sm100a rows of ptx/manifest/sm90_decode.h
// (expanded by kernels_decode_rows.h).
#include "kernels_decode_rows.h"

namespace ptxfmha {

namespace {
const KernelInfo kRows[] = {PTXFMHA_DECODE_ROWS(sm100a)};
}  // namespace

KernelTable decode_kernels_sm100a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
