// Cubin files: where they are and what their ELF header says, checked before the driver
// ever sees a file.
//
//   cubins     <cubin dir>/<arch>/<kernel name>.cubin; the directory is, in this order,
//              ptxfmha_set_cubin_dir(), $PTXFMHA_CUBIN_DIR, PTXFMHA_DEFAULT_CUBIN_DIR.
//   ELF check  read_cubin_target(): the target SM recorded in a cubin's ELF header (e_flags),
//              checked against the device before the driver ever sees the file.
//
// Invariants: the directory override is guarded by a mutex (set_cubin_dir / cubin_dir are
// thread-safe); the ELF parser only reads inside the image it is given (every header table,
// section and segment is bounds-checked), makes no driver call and keeps no state.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// Current cubin directory (override > $PTXFMHA_CUBIN_DIR > compiled-in default).
std::string cubin_dir();
// nullptr or "" restores the default. Thread-safe.
void set_cubin_dir(const char* dir);
// <dir>/<arch>/<name>.cubin
std::string cubin_path(const std::string& dir, const char* arch, const char* name);

// What a cubin's ELF header says about its target.
// ELF e_flags of a cubin (little-endian u32 at byte 48), measured with CUDA 13.0 ptxas:
//   EI_ABIVERSION (e_ident[8]) == 8 (CUDA 13): SM number in bits 8..15, bit 3 =
//     EF_CUDA_ACCELERATORS ("a"; 13.0 ptxas leaves it clear even for sm_90a/sm_100a),
//     e.g. sm_90a -> 0x06005a04, sm_100a -> 0x06006402, sm_103a -> 0x06006702.
//   EI_ABIVERSION  < 8 (CUDA <= 12.x): SM number in bits 0..7, bit 11 =
//     EF_CUDA_ACCELERATORS_V1 ("a"), virtual SM in bits 16..23 (sm_90 -> 0x005a055a).
// The "a"/"f" suffix is also read from the ptxas command line in the .note.nv.tkinfo
// section ("-arch sm_90a") when present; it only decorates messages.
struct CubinTarget {
  int sm = 0;                    // e.g. 90, 100, 103
  bool arch_specific = false;    // "a" target (sm_90a, sm_100a), from e_flags or tkinfo
  bool family_specific = false;  // "f" target (sm_100f), from tkinfo
  unsigned abi_version = 0;      // e_ident[EI_ABIVERSION]
  unsigned e_flags = 0;          // raw ELF e_flags
  std::string name() const;      // "sm_90a", "sm_100a", "sm_100f", "sm_90"
};
// Parses the ELF header of a cubin image in memory. Returns false with *why set when it is
// not a 64-bit little-endian CUDA ELF (EM_CUDA = 190), when e_flags hold no SM, or when a
// header table, section or segment lies outside the image (a truncated file: the driver's
// cuModuleLoadData takes no size and would read past the buffer).
bool parse_cubin_target(const void* data, std::size_t size, CubinTarget* out, std::string* why);
// Reads `path` and parses it. Errors: CUBIN_MISSING (cannot open; message has the path and
// `device_arch` when given), CUBIN_INVALID (not a CUDA ELF).
ptxfmha_status read_cubin_target(const std::string& path, CubinTarget* out,
                                 const char* device_arch = nullptr);
// read_cubin_target that also hands back the file's bytes (the module cache passes them to
// cuModuleLoadData). Same errors and messages.
ptxfmha_status load_cubin_file(const std::string& path, const char* device_arch,
                               std::vector<unsigned char>* bytes, CubinTarget* target);
// True when a cubin built for `t` can run on a device of compute capability `sm`: the SM
// numbers are equal. (CUDA 13.0 ptxas writes the same e_flags for sm_90 and sm_90a, so the
// "a" is not checked; a non-"a" build of our kernels cannot exist, ptxas rejects
// wgmma/tcgen05 there.)
bool cubin_matches_device(const CubinTarget& t, int sm);

}  // namespace ptxfmha
