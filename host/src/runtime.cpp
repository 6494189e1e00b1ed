// Host runtime: last error, context, arch, cubin directory, ELF check, module cache, launch.
// See runtime.h.
#include "runtime.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "driver.h"
#include "validate.h"

#ifndef PTXFMHA_DEFAULT_CUBIN_DIR
#define PTXFMHA_DEFAULT_CUBIN_DIR "build/cubin"
#endif

namespace ptxfmha {

// ---- errors -----------------------------------------------------------------------------
namespace {
thread_local std::string t_last_message;
thread_local ptxfmha_status t_last_status = PTXFMHA_OK;
}  // namespace

ptxfmha_status fail_msg(ptxfmha_status status, const std::string& message) {
  t_last_status = status;
  t_last_message = message;
  return status;
}

ptxfmha_status fail(ptxfmha_status status, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return fail_msg(status, buf);
}

const char* last_error_message() { return t_last_message.c_str(); }
ptxfmha_status last_error_status() { return t_last_status; }
void clear_last_error() {
  t_last_status = PTXFMHA_OK;
  t_last_message.clear();
}

const char* status_name(ptxfmha_status status) {
  switch (status) {
    case PTXFMHA_OK: return "success";
    case PTXFMHA_ERR_NULL_POINTER: return "a required pointer is NULL";
    case PTXFMHA_ERR_MISALIGNED_POINTER: return "a tensor pointer is not 16-byte aligned";
    case PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM: return "no kernel for this head_dim on this device";
    case PTXFMHA_ERR_INVALID_SIZE: return "a size is zero or negative";
    case PTXFMHA_ERR_SIZE_OVERFLOW: return "a size or extent overflows what the kernel indexes";
    case PTXFMHA_ERR_GQA_RATIO: return "heads_q is not a multiple of heads_kv";
    case PTXFMHA_ERR_INVALID_STRIDE: return "invalid stride (negative, not 16-byte multiple, or overlapping rows)";
    case PTXFMHA_ERR_ALIASING: return "an output overlaps another tensor";
    case PTXFMHA_ERR_INVALID_SCALE: return "softmax scale is NaN, infinite or <= 0";
    case PTXFMHA_ERR_NO_DRIVER: return "CUDA driver not available";
    case PTXFMHA_ERR_NO_DEVICE: return "no CUDA device";
    case PTXFMHA_ERR_UNSUPPORTED_ARCH: return "no kernels for this device architecture";
    case PTXFMHA_ERR_CUBIN_MISSING: return "cubin file not found";
    case PTXFMHA_ERR_CUBIN_WRONG_ARCH: return "cubin built for another architecture";
    case PTXFMHA_ERR_CUBIN_INVALID: return "cubin corrupt or lacks the kernel";
    case PTXFMHA_ERR_CUDA: return "CUDA driver call failed";
    case PTXFMHA_ERR_INVALID_PAGE_TABLE: return "invalid page size or block table";
    case PTXFMHA_ERR_INVALID_ARGUMENT: return "invalid argument";
  }
  return "unknown status";
}

ptxfmha_status fail_cuda(CUresult r, const char* what) {
  return fail_msg(PTXFMHA_ERR_CUDA, cu_error_message(r, what));
}

// ---- context and architecture -----------------------------------------------------------
const char* arch_for_cc(int cc_major, int cc_minor) {
  if (cc_major == 9 && cc_minor == 0) return "sm90a";
  if (cc_major == 10) return "sm100a";
  return nullptr;
}

namespace {

struct DeviceAttrs {
  int cc_major = 0, cc_minor = 0, num_sms = 0, max_smem_optin = 0, l2_bytes = 0;
};

// Globals are function-local statics so that calls made during other translation units'
// static initialisation (test registration decorators) find them constructed.
struct CtxGlobals {
  std::mutex mutex;
  CUcontext primary = nullptr;  // device 0's primary context, retained once, never released
  std::map<CUdevice, DeviceAttrs> device_attrs;
};
CtxGlobals& ctx_globals() {
  static CtxGlobals g;
  return g;
}

ptxfmha_status device_attrs(CUdevice dev, DeviceAttrs* out) {
  CtxGlobals& g = ctx_globals();
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    auto it = g.device_attrs.find(dev);
    if (it != g.device_attrs.end()) {
      *out = it->second;
      return PTXFMHA_OK;
    }
  }
  const DriverApi& d = drv();
  DeviceAttrs a;
  const struct {
    CUdevice_attribute attr;
    int* dst;
    const char* name;
  } q[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &a.cc_major, "compute capability major"},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &a.cc_minor, "compute capability minor"},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &a.num_sms, "multiprocessor count"},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &a.max_smem_optin,
       "max shared memory per block (opt-in)"},
      {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &a.l2_bytes, "L2 cache size"},
  };
  for (const auto& e : q) {
    CUresult r = d.cuDeviceGetAttribute(e.dst, e.attr, dev);
    if (r != CUDA_SUCCESS) {
      std::string what = std::string("cuDeviceGetAttribute(") + e.name + ")";
      return fail_cuda(r, what.c_str());
    }
  }
  std::lock_guard<std::mutex> lock(g.mutex);
  g.device_attrs[dev] = a;
  *out = a;
  return PTXFMHA_OK;
}

ptxfmha_status primary_context(CUcontext* out) {
  CtxGlobals& g = ctx_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (g.primary != nullptr) {
    *out = g.primary;
    return PTXFMHA_OK;
  }
  const DriverApi& d = drv();
  int count = 0;
  CUresult r = d.cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuDeviceGetCount");
  if (count <= 0) return fail(PTXFMHA_ERR_NO_DEVICE, "no CUDA device (cuDeviceGetCount = 0)");
  CUdevice dev = 0;
  r = d.cuDeviceGet(&dev, 0);
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuDeviceGet(0)");
  CUcontext ctx = nullptr;
  r = d.cuDevicePrimaryCtxRetain(&ctx, dev);
  if (r == CUDA_ERROR_NO_DEVICE || r == CUDA_ERROR_INVALID_DEVICE)
    return fail_msg(PTXFMHA_ERR_NO_DEVICE, cu_error_message(r, "cuDevicePrimaryCtxRetain(device 0)"));
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuDevicePrimaryCtxRetain(device 0)");
  g.primary = ctx;
  *out = ctx;
  return PTXFMHA_OK;
}

}  // namespace

ptxfmha_status acquire_context(DeviceInfo* out) {
  std::string msg;
  ptxfmha_status st = driver_init(&msg);
  if (st != PTXFMHA_OK) return fail_msg(st, msg);
  const DriverApi& d = drv();
  CUcontext ctx = nullptr;
  CUresult r = d.cuCtxGetCurrent(&ctx);
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuCtxGetCurrent");
  if (ctx == nullptr) {
    st = primary_context(&ctx);
    if (st != PTXFMHA_OK) return st;
    r = d.cuCtxSetCurrent(ctx);
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuCtxSetCurrent(primary context of device 0)");
  }
  CUdevice dev = 0;
  r = d.cuCtxGetDevice(&dev);
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuCtxGetDevice");
  DeviceAttrs a;
  st = device_attrs(dev, &a);
  if (st != PTXFMHA_OK) return st;
  DeviceInfo info;
  info.ctx = ctx;
  info.ctx_id = reinterpret_cast<uintptr_t>(ctx);
  if (d.cuCtxGetId != nullptr) {
    unsigned long long id = 0;
    r = d.cuCtxGetId(ctx, &id);
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuCtxGetId");
    info.ctx_id = id;
  }
  info.device = dev;
  info.cc_major = a.cc_major;
  info.cc_minor = a.cc_minor;
  info.sm = a.cc_major * 10 + a.cc_minor;
  info.arch = arch_for_cc(a.cc_major, a.cc_minor);
  info.num_sms = a.num_sms;
  info.max_smem_optin_bytes = a.max_smem_optin;
  info.l2_bytes = a.l2_bytes;
  *out = info;
  return PTXFMHA_OK;
}

ptxfmha_status require_arch(const DeviceInfo& info) {
  if (info.arch != nullptr) return PTXFMHA_OK;
  return fail(PTXFMHA_ERR_UNSUPPORTED_ARCH,
              "device %d has compute capability %d.%d (sm_%d); ptx-fmha has kernels for sm_90a "
              "(cc 9.0) and sm_100a (cc 10.x) only",
              static_cast<int>(info.device), info.cc_major, info.cc_minor, info.sm);
}

ptxfmha_status acquire_device(DeviceInfo* out) {
  ptxfmha_status st = acquire_context(out);
  if (st != PTXFMHA_OK) return st;
  return require_arch(*out);
}

// ---- cubin directory --------------------------------------------------------------------
namespace {
struct DirGlobals {
  std::mutex mutex;
  std::string override_dir;  // empty = none
};
DirGlobals& dir_globals() {
  static DirGlobals g;
  return g;
}
}  // namespace

std::string cubin_dir() {
  {
    DirGlobals& g = dir_globals();
    std::lock_guard<std::mutex> lock(g.mutex);
    if (!g.override_dir.empty()) return g.override_dir;
  }
  const char* env = std::getenv("PTXFMHA_CUBIN_DIR");
  if (env != nullptr && *env != '\0') return env;
  return PTXFMHA_DEFAULT_CUBIN_DIR;
}

void set_cubin_dir(const char* dir) {
  DirGlobals& g = dir_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.override_dir = dir ? dir : "";
}

std::string cubin_path(const std::string& dir, const char* arch, const char* name) {
  std::string p = dir;
  if (!p.empty() && p.back() != '/') p += '/';
  p += arch;
  p += '/';
  p += name;
  p += ".cubin";
  return p;
}

// ---- ELF --------------------------------------------------------------------------------
namespace {

constexpr unsigned kEmCuda = 190;
constexpr std::size_t kElf64HeaderBytes = 64;

uint16_t rd16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t rd64(const unsigned char* p) {
  return static_cast<uint64_t>(rd32(p)) | (static_cast<uint64_t>(rd32(p + 4)) << 32);
}

// The ptxas target from .note.nv.tkinfo ("... -arch sm_90a ..."); "" if absent.
std::string tkinfo_arch(const unsigned char* d, std::size_t size) {
  uint64_t shoff = rd64(d + 0x28);
  unsigned shentsize = rd16(d + 0x3a), shnum = rd16(d + 0x3c), shstrndx = rd16(d + 0x3e);
  if (shoff == 0 || shentsize < 64 || shnum == 0 || shstrndx >= shnum) return "";
  if (shoff > size || (size - shoff) / shentsize < shnum) return "";
  auto sec = [&](unsigned i) { return d + shoff + static_cast<uint64_t>(i) * shentsize; };
  uint64_t stroff = rd64(sec(shstrndx) + 0x18), strsize = rd64(sec(shstrndx) + 0x20);
  if (stroff > size || strsize > size - stroff) return "";
  for (unsigned i = 0; i < shnum; ++i) {
    const unsigned char* s = sec(i);
    uint32_t name = rd32(s);
    if (name >= strsize) continue;
    const char* nm = reinterpret_cast<const char*>(d + stroff + name);
    std::size_t maxlen = strsize - name;
    static const char kTk[] = ".note.nv.tkinfo";
    if (maxlen < sizeof kTk || std::memcmp(nm, kTk, sizeof kTk) != 0) continue;
    uint64_t off = rd64(s + 0x18), sz = rd64(s + 0x20);
    if (off > size || sz > size - off) return "";
    std::string body(reinterpret_cast<const char*>(d + off), static_cast<std::size_t>(sz));
    for (const char* key : {"-arch ", "-arch=", "--gpu-name ", "--gpu-name="}) {
      std::size_t k = body.find(key);
      if (k == std::string::npos) continue;
      std::size_t b = k + std::strlen(key);
      std::size_t e = b;
      while (e < body.size() && body[e] != ' ' && body[e] != '\0') ++e;
      std::string arch = body.substr(b, e - b);
      if (arch.compare(0, 3, "sm_") == 0) return arch;
    }
    return "";
  }
  return "";
}

// The driver's cuModuleLoadData gets no size: before handing it an image, make sure every
// header table and every section/segment it will read lies inside the file.
bool elf_bounds_ok(const unsigned char* d, std::size_t size, std::string* why) {
  auto bad = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  auto inside = [size](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  const uint64_t phoff = rd64(d + 0x20), shoff = rd64(d + 0x28);
  const unsigned phentsize = rd16(d + 0x36), phnum = rd16(d + 0x38);
  const unsigned shentsize = rd16(d + 0x3a), shnum = rd16(d + 0x3c), shstrndx = rd16(d + 0x3e);
  if (phnum > 0) {
    if (phentsize < 56) return bad("ELF program header entries too small");
    if (!inside(phoff, uint64_t(phnum) * phentsize))
      return bad("ELF program header table lies outside the file (truncated?)");
    for (unsigned i = 0; i < phnum; ++i) {
      const unsigned char* ph = d + phoff + uint64_t(i) * phentsize;
      if (!inside(rd64(ph + 0x08), rd64(ph + 0x20)))
        return bad("an ELF segment lies outside the file (truncated?)");
    }
  }
  if (shoff != 0 || shnum > 0) {
    if (shnum == 0) return bad("ELF section table without sections");
    if (shentsize < 64) return bad("ELF section header entries too small");
    if (!inside(shoff, uint64_t(shnum) * shentsize))
      return bad("ELF section header table lies outside the file (truncated?)");
    if (shstrndx >= shnum) return bad("ELF section name table index out of range");
    constexpr uint32_t kShtNobits = 8;
    for (unsigned i = 0; i < shnum; ++i) {
      const unsigned char* sh = d + shoff + uint64_t(i) * shentsize;
      if (rd32(sh + 4) == kShtNobits) continue;
      if (!inside(rd64(sh + 0x18), rd64(sh + 0x20)))
        return bad("an ELF section lies outside the file (truncated?)");
    }
  }
  return true;
}

}  // namespace

std::string CubinTarget::name() const {
  std::string n = "sm_" + std::to_string(sm);
  if (arch_specific) n += 'a';
  else if (family_specific) n += 'f';
  return n;
}

bool parse_cubin_target(const void* data, std::size_t size, CubinTarget* out, std::string* why) {
  const unsigned char* d = static_cast<const unsigned char*>(data);
  auto bad = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (d == nullptr || size < kElf64HeaderBytes) return bad("shorter than an ELF64 header (64 bytes)");
  if (d[0] != 0x7f || d[1] != 'E' || d[2] != 'L' || d[3] != 'F') return bad("no ELF magic");
  if (d[4] != 2) return bad("not a 64-bit ELF (EI_CLASS != ELFCLASS64)");
  if (d[5] != 1) return bad("not a little-endian ELF (EI_DATA != ELFDATA2LSB)");
  if (rd16(d + 18) != kEmCuda) return bad("ELF e_machine is not EM_CUDA (190)");
  if (!elf_bounds_ok(d, size, why)) return false;
  CubinTarget t;
  t.abi_version = d[8];
  t.e_flags = rd32(d + 48);
  if (t.abi_version >= 8) {
    t.sm = static_cast<int>((t.e_flags >> 8) & 0xff);
    t.arch_specific = (t.e_flags & 0x8) != 0;
  } else {
    t.sm = static_cast<int>(t.e_flags & 0xff);
    t.arch_specific = (t.e_flags & 0x800) != 0;
  }
  if (t.sm < 10) return bad("ELF e_flags name no SM target");
  std::string tk = tkinfo_arch(d, size);
  if (tk == "sm_" + std::to_string(t.sm) + "a") t.arch_specific = true;
  if (tk == "sm_" + std::to_string(t.sm) + "f") t.family_specific = true;
  *out = t;
  return true;
}

namespace {

// Reads a whole regular file. Returns false with errno-style text when it cannot.
bool read_file(const std::string& path, std::vector<unsigned char>* out, std::string* why) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *why = std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = "not a regular file";
    return false;
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *why = std::strerror(errno);
    return false;
  }
  out->resize(static_cast<std::size_t>(st.st_size));
  std::size_t n = out->empty() ? 0 : std::fread(out->data(), 1, out->size(), f);
  bool ok = n == out->size() && !std::ferror(f);
  std::fclose(f);
  if (!ok) *why = "read error";
  return ok;
}

ptxfmha_status load_cubin_file(const std::string& path, const char* device_arch,
                               std::vector<unsigned char>* bytes, CubinTarget* target) {
  std::string why;
  if (!read_file(path, bytes, &why))
    return fail(PTXFMHA_ERR_CUBIN_MISSING,
                "cubin %s not found (%s)%s%s; build it with `make` or point "
                "PTXFMHA_CUBIN_DIR / ptxfmha_set_cubin_dir() at the directory holding "
                "<arch>/<kernel>.cubin",
                path.c_str(), why.c_str(), device_arch ? " for device arch " : "",
                device_arch ? device_arch : "");
  if (!parse_cubin_target(bytes->data(), bytes->size(), target, &why))
    return fail(PTXFMHA_ERR_CUBIN_INVALID, "cubin %s is not a CUDA ELF: %s", path.c_str(),
                why.c_str());
  return PTXFMHA_OK;
}

}  // namespace

ptxfmha_status read_cubin_target(const std::string& path, CubinTarget* out,
                                 const char* device_arch) {
  std::vector<unsigned char> bytes;
  return load_cubin_file(path, device_arch, &bytes, out);
}

bool cubin_matches_device(const CubinTarget& t, int sm) { return t.sm == sm; }

// ---- module cache -----------------------------------------------------------------------
namespace {

using ModuleKey = std::tuple<unsigned long long, std::string, std::string>;  // ctx id, dir, name
struct ModuleGlobals {
  std::mutex mutex;
  std::map<ModuleKey, LoadedKernel> modules;
};
ModuleGlobals& module_globals() {
  static ModuleGlobals g;
  return g;
}

bool is_image_error(CUresult r) {
  switch (r) {
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_INVALID_SOURCE:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND:
    case CUDA_ERROR_SHARED_OBJECT_INIT_FAILED:
    case CUDA_ERROR_INVALID_VALUE:
    case CUDA_ERROR_NOT_FOUND:
      return true;
    default:
      return false;
  }
}

// Loads and checks one kernel; on success the caller caches *out.
ptxfmha_status load_kernel(const DeviceInfo& info, const KernelInfo& row, const std::string& dir,
                           LoadedKernel* out) {
  const DriverApi& d = drv();
  char dev_arch[64];
  std::snprintf(dev_arch, sizeof dev_arch, "%s (sm_%d, cc %d.%d)", info.arch ? info.arch : "none",
                info.sm, info.cc_major, info.cc_minor);
  std::string path = cubin_path(dir, row.arch, row.name);
  std::vector<unsigned char> bytes;
  CubinTarget t;
  ptxfmha_status st = load_cubin_file(path, dev_arch, &bytes, &t);
  if (st != PTXFMHA_OK) return st;
  if (!cubin_matches_device(t, info.sm))
    return fail(PTXFMHA_ERR_CUBIN_WRONG_ARCH, "cubin %s is built for %s (ELF e_flags 0x%08x), device is %s",
                path.c_str(), t.name().c_str(), t.e_flags, dev_arch);
  CUmodule mod = nullptr;
  CUresult r = d.cuModuleLoadData(&mod, bytes.data());
  if (r != CUDA_SUCCESS) {
    std::string m = cu_error_message(r, "cuModuleLoadData");
    if (r == CUDA_ERROR_NO_BINARY_FOR_GPU)
      return fail(PTXFMHA_ERR_CUBIN_WRONG_ARCH, "cubin %s (%s) does not run on device %s: %s",
                  path.c_str(), t.name().c_str(), dev_arch, m.c_str());
    return fail(is_image_error(r) ? PTXFMHA_ERR_CUBIN_INVALID : PTXFMHA_ERR_CUDA,
                "cannot load cubin %s: %s", path.c_str(), m.c_str());
  }
  auto unload_fail = [&](ptxfmha_status s, const std::string& msg) {
    d.cuModuleUnload(mod);
    return fail_msg(s, msg);
  };
  CUfunction fn = nullptr;
  r = d.cuModuleGetFunction(&fn, mod, row.name);
  if (r != CUDA_SUCCESS)
    return unload_fail(is_image_error(r) ? PTXFMHA_ERR_CUBIN_INVALID : PTXFMHA_ERR_CUDA,
                       "cubin " + path + " has no kernel " + row.name + ": " +
                           cu_error_message(r, "cuModuleGetFunction"));
  int max_threads = 0;
  r = d.cuFuncGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, fn);
  if (r != CUDA_SUCCESS)
    return unload_fail(PTXFMHA_ERR_CUDA, cu_error_message(r, "cuFuncGetAttribute(MAX_THREADS_PER_BLOCK)"));
  if (max_threads < row.threads) {
    char m[512];
    std::snprintf(m, sizeof m,
                  "kernel %s in %s allows at most %d threads per block, its table row launches %d "
                  "(.maxntid or register use disagree with the table)",
                  row.name, path.c_str(), max_threads, row.threads);
    return unload_fail(PTXFMHA_ERR_CUBIN_INVALID, m);
  }
  if (d.cuFuncGetParamInfo != nullptr) {
    size_t off = 0, sz = 0;
    r = d.cuFuncGetParamInfo(fn, 0, &off, &sz);
    size_t off1 = 0, sz1 = 0;
    bool has_second = d.cuFuncGetParamInfo(fn, 1, &off1, &sz1) == CUDA_SUCCESS;
    // Only size and count: the offset is where the driver places the block in its
    // constant-bank parameter area (48 on sm_90 with CUDA 13.0), not 0.
    if (r != CUDA_SUCCESS || sz != static_cast<size_t>(row.param_bytes) || has_second) {
      char m[512];
      std::snprintf(m, sizeof m,
                    "kernel %s in %s: parameter list is not one %d-byte block (param 0: %s, %zu "
                    "bytes at offset %zu%s)",
                    row.name, path.c_str(), row.param_bytes,
                    r == CUDA_SUCCESS ? "present" : "missing", sz, off,
                    has_second ? "; has a second parameter" : "");
      return unload_fail(PTXFMHA_ERR_CUBIN_INVALID, m);
    }
  }
  constexpr int kDefaultDynSmemBytes = 48 * 1024;
  if (row.smem_bytes > kDefaultDynSmemBytes) {
    r = d.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, row.smem_bytes);
    if (r != CUDA_SUCCESS) {
      char m[600];
      std::snprintf(m, sizeof m,
                    "kernel %s needs %d bytes of dynamic shared memory, device allows %d per block: %s",
                    row.name, row.smem_bytes, info.max_smem_optin_bytes,
                    cu_error_message(r, "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)").c_str());
      return unload_fail(PTXFMHA_ERR_CUDA, m);
    }
  }
  out->module = mod;
  out->function = fn;
  return PTXFMHA_OK;
}

}  // namespace

ptxfmha_status get_kernel(const DeviceInfo& info, const KernelInfo& row, LoadedKernel* out) {
  if (info.arch == nullptr || std::strcmp(row.arch, info.arch) != 0)
    return fail(PTXFMHA_ERR_CUBIN_WRONG_ARCH,
                "kernel %s is built for %s, device has arch %s (sm_%d)", row.name, row.arch,
                info.arch ? info.arch : "none", info.sm);
  std::string dir = cubin_dir();
  ModuleKey key(info.ctx_id, dir, row.name);
  ModuleGlobals& g = module_globals();
  std::lock_guard<std::mutex> lock(g.mutex);  // loads are rare: hold it throughout
  auto it = g.modules.find(key);
  if (it != g.modules.end()) {
    *out = it->second;
    return PTXFMHA_OK;
  }
  LoadedKernel k;
  ptxfmha_status st = load_kernel(info, row, dir, &k);
  if (st != PTXFMHA_OK) return st;
  g.modules.emplace(key, k);
  *out = k;
  return PTXFMHA_OK;
}

// ---- tile counters ----------------------------------------------------------------------
namespace {

// (context id, stream handle, host thread for CU_STREAM_PER_THREAD else 0)
using CounterKey = std::tuple<unsigned long long, uintptr_t, std::size_t>;
constexpr std::size_t kCounterBytes = 8;     // 2 x u32
constexpr std::size_t kSlabBytes = 4096;     // one allocation serves 512 streams
struct CounterSlab {
  CUdeviceptr base = 0;
  std::size_t used = 0;
};
struct CounterGlobals {
  std::mutex mutex;
  std::map<CounterKey, CUdeviceptr> counters;
  std::map<unsigned long long, CounterSlab> slabs;  // current slab per context
};
CounterGlobals& counter_globals() {
  static CounterGlobals g;
  return g;
}

}  // namespace

ptxfmha_status tile_counter(const DeviceInfo& info, CUstream stream, CUdeviceptr* out) {
  const DriverApi& d = drv();
  *out = 0;
  CUstreamCaptureStatus cap = CU_STREAM_CAPTURE_STATUS_NONE;
  const CUresult rc = d.cuStreamIsCapturing(stream, &cap);
  // Not capturing, or the query itself says a capture is in the way (e.g. the legacy stream
  // while another stream captures in global mode: the launch will report that itself).
  if (rc != CUDA_SUCCESS || cap != CU_STREAM_CAPTURE_STATUS_NONE) return PTXFMHA_OK;
  uintptr_t handle = reinterpret_cast<uintptr_t>(stream);
  if (stream == CU_STREAM_LEGACY) handle = 0;  // the same stream as NULL
  const std::size_t thread =
      stream == CU_STREAM_PER_THREAD ? std::hash<std::thread::id>()(std::this_thread::get_id()) : 0;
  const CounterKey key(info.ctx_id, handle, thread);
  CounterGlobals& g = counter_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  auto it = g.counters.find(key);
  if (it != g.counters.end()) {
    *out = it->second;
    return PTXFMHA_OK;
  }
  CounterSlab& slab = g.slabs[info.ctx_id];
  if (slab.base == 0 || slab.used + kCounterBytes > kSlabBytes) {
    CUdeviceptr p = 0;
    CUresult r = d.cuMemAlloc(&p, kSlabBytes);
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuMemAlloc (tile counters)");
    r = d.cuMemsetD32(p, 0, kSlabBytes / 4);
    // The memset is asynchronous and runs on the legacy stream, which a non-blocking stream
    // does not wait for: without this sync a first launch there could read a counter that
    // is not zero yet (and skip or repeat work tiles). Once per slab of 512 counters.
    if (r == CUDA_SUCCESS) r = d.cuStreamSynchronize(CU_STREAM_LEGACY);
    if (r != CUDA_SUCCESS) {
      d.cuMemFree(p);
      return fail_cuda(r, "cuMemsetD32 + cuStreamSynchronize (tile counters)");
    }
    slab.base = p;
    slab.used = 0;
  }
  const CUdeviceptr p = slab.base + slab.used;
  slab.used += kCounterBytes;
  g.counters.emplace(key, p);
  *out = p;
  return PTXFMHA_OK;
}

void forget_context_modules(unsigned long long ctx_id) {
  {
    ModuleGlobals& g = module_globals();
    std::lock_guard<std::mutex> lock(g.mutex);
    for (auto it = g.modules.begin(); it != g.modules.end();) {
      if (std::get<0>(it->first) == ctx_id) it = g.modules.erase(it);
      else ++it;
    }
  }
  CounterGlobals& g = counter_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  for (auto it = g.counters.begin(); it != g.counters.end();) {
    if (std::get<0>(it->first) == ctx_id) it = g.counters.erase(it);
    else ++it;
  }
  g.slabs.erase(ctx_id);
}

std::size_t module_cache_size() {
  ModuleGlobals& g = module_globals();
  std::lock_guard<std::mutex> lock(g.mutex);
  return g.modules.size();
}

// ---- device pointers --------------------------------------------------------------------
ptxfmha_status check_device_range(const char* name, uint64_t lo, uint64_t hi) {
  const DriverApi& d = drv();
  const uint64_t probes[2] = {lo, hi > lo ? hi - 1 : lo};
  for (int i = 0; i < 2; ++i) {
    unsigned int type = 0;
    CUresult r = d.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                         static_cast<CUdeviceptr>(probes[i]));
    if (r == CUDA_ERROR_INVALID_VALUE || r == CUDA_ERROR_NOT_FOUND) {
      if (i == 0)
        return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                    "%s = 0x%llx is not memory known to CUDA (a host pointer? %s)", name,
                    static_cast<unsigned long long>(lo), cu_error_message(r).c_str());
      return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                  "%s: the tensor's last byte 0x%llx (extent %llu bytes from 0x%llx) is not in "
                  "memory known to CUDA: the allocation is smaller than the sizes and strides say",
                  name, static_cast<unsigned long long>(probes[1]),
                  static_cast<unsigned long long>(hi - lo), static_cast<unsigned long long>(lo));
    }
    if (r != CUDA_SUCCESS) return fail_cuda(r, "cuPointerGetAttribute(MEMORY_TYPE)");
  }
  return PTXFMHA_OK;
}

// ---- TMA tensor maps --------------------------------------------------------------------
ptxfmha_status encode_tensor_map(const TensorView& t, unsigned box_cols, unsigned box_rows,
                                 CUtensorMap* out) {
  if (t.elem_bytes != 2)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "%s: only 2-byte (bf16) tensors have tensor maps",
                t.name);
  const DriverApi& d = drv();
  const cuuint64_t elem = static_cast<cuuint64_t>(t.elem_bytes);
  cuuint64_t dims[4] = {static_cast<cuuint64_t>(t.dims[3]), static_cast<cuuint64_t>(t.dims[1]),
                        static_cast<cuuint64_t>(t.dims[2]), static_cast<cuuint64_t>(t.dims[0])};
  // strides[0] is the seq dim (TMA dim 1), [1] heads (dim 2), [2] batch (dim 3).
  const int view_dim[3] = {1, 2, 0};
  cuuint64_t strides[3];
  for (int i = 0; i < 3; ++i) {
    int v = view_dim[i];
    strides[i] = t.dims[v] > 1 ? static_cast<cuuint64_t>(t.strides[v]) * elem
                               : static_cast<cuuint64_t>(t.dims[3]) * elem;
  }
  cuuint32_t box[4] = {box_cols, box_rows, 1, 1};
  cuuint32_t estr[4] = {1, 1, 1, 1};
  CUresult r = d.cuTensorMapEncodeTiled(
      out, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, const_cast<void*>(t.ptr), dims, strides, box,
      estr, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    char what[400];
    std::snprintf(what, sizeof what,
                  "cuTensorMapEncodeTiled(%s: dims {%llu, %llu, %llu, %llu}, byte strides {%llu, "
                  "%llu, %llu}, box {%u, %u, 1, 1})",
                  t.name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                  (unsigned long long)dims[2], (unsigned long long)dims[3],
                  (unsigned long long)strides[0], (unsigned long long)strides[1],
                  (unsigned long long)strides[2], box_cols, box_rows);
    return fail_cuda(r, what);
  }
  return PTXFMHA_OK;
}

// ---- launch -----------------------------------------------------------------------------
ptxfmha_status launch_kernel(CUfunction f, const LaunchDims& dims, const void* param_block,
                             const char* what) {
  const DriverApi& d = drv();
  CUlaunchConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.gridDimX = dims.grid[0];
  cfg.gridDimY = dims.grid[1];
  cfg.gridDimZ = dims.grid[2];
  cfg.blockDimX = dims.block[0];
  cfg.blockDimY = dims.block[1];
  cfg.blockDimZ = dims.block[2];
  cfg.sharedMemBytes = dims.smem_bytes;
  cfg.hStream = dims.stream;
  CUlaunchAttribute attr[2];
  std::memset(attr, 0, sizeof attr);
  unsigned n = 0;
  if (dims.cluster[0] * dims.cluster[1] * dims.cluster[2] > 1) {
    attr[n].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attr[n].value.clusterDim.x = dims.cluster[0];
    attr[n].value.clusterDim.y = dims.cluster[1];
    attr[n].value.clusterDim.z = dims.cluster[2];
    ++n;
  }
  if (dims.programmatic_serialization) {
    attr[n].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr[n].value.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  cfg.attrs = n ? attr : nullptr;
  cfg.numAttrs = n;
  void* args[1] = {const_cast<void*>(param_block)};
  CUresult r = d.cuLaunchKernelEx(&cfg, f, args, nullptr);
  if (r != CUDA_SUCCESS) {
    char m[640];
    std::snprintf(m, sizeof m, "launch of %s (grid %u,%u,%u block %u,%u,%u cluster %u,%u,%u, %u B smem)",
                  what ? what : "kernel", dims.grid[0], dims.grid[1], dims.grid[2], dims.block[0],
                  dims.block[1], dims.block[2], dims.cluster[0], dims.cluster[1], dims.cluster[2],
                  dims.smem_bytes);
    return fail_cuda(r, m);
  }
  return PTXFMHA_OK;
}

}  // namespace ptxfmha
