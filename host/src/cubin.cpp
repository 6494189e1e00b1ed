// Cubin directory and the ELF target check. See cubin.h.
#include "cubin.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "status.h"

#ifndef PTXFMHA_DEFAULT_CUBIN_DIR
#define PTXFMHA_DEFAULT_CUBIN_DIR "build/cubin"
#endif

namespace ptxfmha {

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

}  // namespace

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

ptxfmha_status read_cubin_target(const std::string& path, CubinTarget* out,
                                 const char* device_arch) {
  std::vector<unsigned char> bytes;
  return load_cubin_file(path, device_arch, &bytes, out);
}

bool cubin_matches_device(const CubinTarget& t, int sm) { return t.sm == sm; }

}  // namespace ptxfmha
