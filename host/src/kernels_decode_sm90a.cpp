// Kernel table rows for the decode kernels on sm90a (the list is in kernels_decode_rows.h).
#include "kernels_decode_rows.h"

namespace ptxfmha {

namespace {
const KernelInfo kRows[] = {PTXFMHA_DECODE_ROWS("sm90a", 90)};
}  // namespace

KernelTable decode_kernels_sm90a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
