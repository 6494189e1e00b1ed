// Kernel table rows for the decode kernels on sm100a (the list is in kernels_decode_rows.h).
#include "kernels_decode_rows.h"

namespace ptxfmha {

namespace {
const KernelInfo kRows[] = {PTXFMHA_DECODE_ROWS("sm100a", 100)};
}  // namespace

KernelTable decode_kernels_sm100a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
