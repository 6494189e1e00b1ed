// Host runtime shared by every entry point (fwd.cpp, decode*.cpp) and by tests/bench/tools.
//
//   errors     thread-local last error: fail(status, printf-format, ...) records the message
//              and returns the status, so `return fail(PTXFMHA_ERR_X, "q is null");`.
//   context    acquire_context(): the calling thread's current CUDA context if it has one,
//              else device 0's primary context (retained once per process, made current).
//   arch       compute capability -> kernel folder: 9.0 -> "sm90a", 10.x -> "sm100a".
//   cubins     <cubin dir>/<arch>/<kernel name>.cubin; the directory is, in this order,
//              ptxfmha_set_cubin_dir(), $PTXFMHA_CUBIN_DIR, PTXFMHA_DEFAULT_CUBIN_DIR.
//   ELF check  read_cubin_sm(): the target SM recorded in a cubin's ELF header (e_flags),
//              checked against the device before the driver ever sees the file.
//   modules    get_kernel(): thread-safe cache keyed by (context, cubin dir, kernel name);
//              loads the cubin once per context, resolves the entry symbol, opts in to
//              more than 48 KiB of dynamic shared memory when the row needs it, and checks
//              the kernel's .param size and thread limit against the table row.
//   launch     launch_kernel(): cuLaunchKernelEx with one by-value parameter block,
//              optional cluster dims; returns PTXFMHA_ERR_CUDA naming the kernel on failure.
//   table      all_kernels()/find_kernel()/supported_head_dims(): the aggregate of every
//              kernels_*.cpp table (kernel_table.cpp).
//
// Every function that returns ptxfmha_status has already called fail() when it returns an
// error, so callers just propagate the status.
#pragma once
#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// ---- errors -----------------------------------------------------------------------------
// Records `status` and the formatted message as this thread's last error; returns status.
ptxfmha_status fail(ptxfmha_status status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Same, with a ready message.
ptxfmha_status fail_msg(ptxfmha_status status, const std::string& message);
// This thread's last error message ("" if none) and status (PTXFMHA_OK if none).
const char* last_error_message();
ptxfmha_status last_error_status();
void clear_last_error();
// Fixed short text of a status (ptxfmha_status_string).
const char* status_name(ptxfmha_status status);
// Fails with PTXFMHA_ERR_CUDA: "<what> failed: CUDA_ERROR_... (n): text".
ptxfmha_status fail_cuda(CUresult r, const char* what);

// ---- context and architecture -----------------------------------------------------------
struct DeviceInfo {
  CUcontext ctx = nullptr;
  unsigned long long ctx_id = 0;  // cuCtxGetId, unique per context for the process lifetime
  CUdevice device = 0;
  int cc_major = 0, cc_minor = 0;
  int sm = 0;                     // cc_major*10 + cc_minor, as KernelInfo::sm (90, 100, 103)
  const char* arch = nullptr;     // "sm90a" / "sm100a"; nullptr if no kernels for this device
  int num_sms = 0;
  int max_smem_optin_bytes = 0;   // CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
  int l2_bytes = 0;               // CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE
};

// driver_init, then the calling thread's current context, else device 0's primary context
// (made current on this thread). Fills everything in *out. Errors: NO_DRIVER, NO_DEVICE,
// CUDA. Does NOT fail for an unsupported architecture (out->arch == nullptr then):
// call require_arch() when kernels are needed.
ptxfmha_status acquire_context(DeviceInfo* out);
// PTXFMHA_ERR_UNSUPPORTED_ARCH naming the device's compute capability when info.arch is null.
ptxfmha_status require_arch(const DeviceInfo& info);
// Kernel folder for a compute capability: (9,0) -> "sm90a", (10,x) -> "sm100a", else nullptr.
const char* arch_for_cc(int cc_major, int cc_minor);
// acquire_context + require_arch.
ptxfmha_status acquire_device(DeviceInfo* out);

// ---- cubin files ------------------------------------------------------------------------
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
// True when a cubin built for `t` can run on a device of compute capability `sm`: the SM
// numbers are equal. (CUDA 13.0 ptxas writes the same e_flags for sm_90 and sm_90a, so the
// "a" is not checked; a non-"a" build of our kernels cannot exist, ptxas rejects
// wgmma/tcgen05 there.)
bool cubin_matches_device(const CubinTarget& t, int sm);

// ---- module cache -----------------------------------------------------------------------
struct LoadedKernel {
  CUmodule module = nullptr;
  CUfunction function = nullptr;
};
// Loads (once per context, cubin directory and name) <cubin_dir>/<info.arch>/<row.name>.cubin
// and resolves row.name. The context must be current on this thread (acquire_device does
// that). Errors: CUBIN_MISSING, CUBIN_WRONG_ARCH (row arch or file target differs from the
// device), CUBIN_INVALID (not an ELF, driver rejects it, symbol missing, .param size or
// thread limit differ from the row), CUDA (attribute calls).
ptxfmha_status get_kernel(const DeviceInfo& info, const KernelInfo& row, LoadedKernel* out);
// Drops the cache entries of a context (its modules and tile counters die with the context;
// for tests that destroy contexts). Entries are keyed by the unique context id, so a destroyed context's
// entries are never reused even if a new context gets the same CUcontext handle.
void forget_context_modules(unsigned long long ctx_id);
// Number of cached (context, dir, kernel) entries; for tests.
std::size_t module_cache_size();

// ---- tile counters (dynamic schedulers of persistent kernels) ---------------------------
// Device memory for a persistent kernel's work-tile counter: 2 x u32 {next tile, CTAs done},
// one pair per (context, stream), zeroed when allocated. The kernel's last CTA puts both back
// to zero, so the pair is zero whenever no launch using it runs; launches on one stream never
// overlap (no programmatic serialization on these kernels), so one pair per stream suffices.
// The legacy default stream (NULL or CU_STREAM_LEGACY) is one stream; CU_STREAM_PER_THREAD
// gets one pair per host thread. *out = 0 (use the static schedule) while `stream` is being
// captured into a graph: a graph may be launched on any stream, concurrently with direct
// launches on the captured one, and would then share the pair. Pairs live until the context
// is forgotten (forget_context_modules). Errors: CUDA (allocation).
ptxfmha_status tile_counter(const DeviceInfo& info, CUstream stream, CUdeviceptr* out);

// ---- device pointers --------------------------------------------------------------------
// Checks that [lo, hi) starts and ends in memory CUDA knows (cuPointerGetAttribute
// MEMORY_TYPE on lo and hi-1: device, managed or registered/pinned host memory), so a host
// pointer or a tensor running off the end of its allocation into unmapped space is reported
// instead of faulting in the kernel. Needs a current context. Errors: INVALID_ARGUMENT
// naming `name`. (Best effort: a range ending inside another allocation passes.)
ptxfmha_status check_device_range(const char* name, uint64_t lo, uint64_t hi);

// ---- TMA tensor maps --------------------------------------------------------------------
struct TensorView;  // validate.h
// cuTensorMapEncodeTiled over a validated TensorView, rank 4, innermost first:
// dims {head_dim, seq, heads, batch}, byte strides {seq, head, batch} * elem_bytes (a dim of
// extent 1 gets stride head_dim*elem_bytes instead of its unused value), box
// {box_cols, box_rows, 1, 1}, element strides 1, INTERLEAVE_NONE, SWIZZLE_128B,
// L2_PROMOTION_L2_256B, FLOAT_OOB_FILL_NONE (out-of-bounds reads give zeros). Data type
// BFLOAT16 for elem_bytes 2. Errors: CUDA naming t.name.
ptxfmha_status encode_tensor_map(const TensorView& t, unsigned box_cols, unsigned box_rows,
                                 CUtensorMap* out);

// ---- launch -----------------------------------------------------------------------------
struct LaunchDims {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned cluster[3] = {1, 1, 1};  // all 1 = no cluster attribute
  unsigned smem_bytes = 0;          // dynamic shared memory
  CUstream stream = nullptr;
  // Programmatic dependent launch: the kernel may start before the previous kernel in the
  // stream finishes; it waits for it with griddepcontrol.wait (decode's combine kernel).
  bool programmatic_serialization = false;
};
// cuLaunchKernelEx(f, dims, kernelParams = {param_block}) with the cluster and PDL attributes
// that `dims` asks for. `what` names the kernel in the error message. Errors: CUDA.
ptxfmha_status launch_kernel(CUfunction f, const LaunchDims& dims, const void* param_block,
                             const char* what);

// ---- kernel table (kernel_table.cpp) ----------------------------------------------------
// Every row of every kernels_*.cpp, in a fixed order (fwd sm90a, decode sm90a, fwd sm100a,
// decode sm100a).
std::vector<const KernelInfo*> all_kernels();
// The row for (sm, kind, head_dim), or nullptr. sm is the device's cc (90, 100, 103): a
// row matches when its arch folder is the device's arch_for_cc.
const KernelInfo* find_kernel(int sm, KernelKind kind, int head_dim);
// Ascending head dims with a row for (sm, kind).
std::vector<int> supported_head_dims(int sm, KernelKind kind);
// "64, 128" (for messages); "none" when empty.
std::string head_dims_string(const std::vector<int>& dims);

}  // namespace ptxfmha
