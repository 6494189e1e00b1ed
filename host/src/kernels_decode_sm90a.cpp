// Kernel table rows for the decode kernels on sm90a: the sm90a rows of ptx/manifest/sm90_decode.h
// (expanded by kernels_decode_rows.h).
#include "kernels_decode_rows.h"

namespace ptxfmha {

namespace {
const KernelInfo kRows[] = {PTXFMHA_DECODE_ROWS(sm90a)};
}  // namespace

KernelTable decode_kernels_sm90a() { return {kRows, sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace ptxfmha
