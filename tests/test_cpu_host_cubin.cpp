// CPU tests of the cubin checks (host/src/runtime.cpp): the ELF arch reader on real cubins
// assembled here with ptxas for sm_90a, sm_100a and sm_103a, on corrupt files, and the
// module loader's missing / wrong-arch / corrupt paths, which all fail before any driver call.
// Needs ptxas ($PTXAS, else $CUDA/bin/ptxas, else /usr/local/cuda/bin/ptxas); the tests are
// skipped without it. No device is used.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gpu_util.h"  // ptxas_path
#include "kernel_table.h"
#include "runtime.h"

namespace {

using ptxfmha_test::ptxas_path;
bool have_ptxas() { return ::access(ptxas_path().c_str(), X_OK) == 0; }

std::vector<unsigned char> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A fresh temp dir with tiny kernels assembled for several targets.
struct Cubins {
  std::string dir;
  Cubins() {
    char tmpl[] = "/tmp/ptxfmha_cubin_test_XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~Cubins() {
    std::string cmd = "rm -rf '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", dir.c_str());
  }
  // Assembles `.entry <entry>` for `target` (e.g. "sm_90a") into <dir>/<file>; returns the path.
  std::string assemble(const std::string& target, const std::string& entry, const std::string& file) {
    const std::string ptx = dir + "/" + entry + "_" + target + ".ptx";
    {
      std::ofstream f(ptx);
      f << ".version 8.8\n.target " << target << "\n.address_size 64\n"
        << ".visible .entry " << entry << "(.param .align 64 .b8 params[640])\n{\n  ret;\n}\n";
    }
    const std::string out = dir + "/" + file;
    const std::string cmd = ptxas_path() + " -arch=" + target + " '" + ptx + "' -o '" + out + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return out;
  }
  void mkdirs(const std::string& sub) {
    std::string cmd = "mkdir -p '" + dir + "/" + sub + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
};

ptxfmha::CubinTarget parse_file(const std::string& path, bool* ok, std::string* why) {
  auto bytes = read_all(path);
  ptxfmha::CubinTarget t;
  *ok = ptxfmha::parse_cubin_target(bytes.data(), bytes.size(), &t, why);
  return t;
}

// A device description for the loader tests; nothing in the paths tested reaches the driver.
ptxfmha::DeviceInfo fake_device(int major, int minor) {
  ptxfmha::DeviceInfo d;
  d.ctx_id = 0xfeedull;  // never a real context
  d.cc_major = major;
  d.cc_minor = minor;
  d.sm = major * 10 + minor;
  d.arch = ptxfmha::arch_for_cc(major, minor);
  return d;
}

const ptxfmha::KernelInfo kFakeRow90 = {"fmha_test_kernel", "sm90a", 90, ptxfmha::KernelKind::Fwd,
                                        64, 128, 128, 128, 1024, 640};

}  // namespace

TEST_CASE("cubin ELF: target SM of real ptxas output" * doctest::skip(!have_ptxas())) {
  Cubins c;
  struct {
    const char* target;
    int sm;
    const char* name;
  } cases[] = {{"sm_90a", 90, "sm_90a"}, {"sm_100a", 100, "sm_100a"}, {"sm_103a", 103, "sm_103a"},
               {"sm_90", 90, "sm_90"},   {"sm_80", 80, "sm_80"}};
  for (const auto& k : cases) {
    CAPTURE(k.target);
    const std::string path = c.assemble(k.target, "tiny", std::string("t_") + k.target + ".cubin");
    bool ok = false;
    std::string why;
    ptxfmha::CubinTarget t = parse_file(path, &ok, &why);
    CAPTURE(why);
    REQUIRE(ok);
    CHECK(t.sm == k.sm);
    CHECK(t.name() == k.name);
    CHECK(ptxfmha::cubin_matches_device(t, k.sm));
    CHECK_FALSE(ptxfmha::cubin_matches_device(t, k.sm == 90 ? 100 : 90));
    // CUDA 13 ABI: SM in e_flags bits 8..15.
    CHECK(t.abi_version >= 8);
    CHECK(((t.e_flags >> 8) & 0xff) == unsigned(k.sm));
    // read_cubin_target agrees
    ptxfmha::CubinTarget t2;
    CHECK(ptxfmha::read_cubin_target(path, &t2) == PTXFMHA_OK);
    CHECK(t2.sm == t.sm);
  }
}

TEST_CASE("cubin ELF: corrupt and foreign files are rejected with a reason" * doctest::skip(!have_ptxas())) {
  Cubins c;
  const std::string good = c.assemble("sm_90a", "tiny", "good.cubin");
  const auto bytes = read_all(good);
  REQUIRE(bytes.size() > 64);
  auto parse = [](std::vector<unsigned char> b, std::string* why) {
    ptxfmha::CubinTarget t;
    return ptxfmha::parse_cubin_target(b.data(), b.size(), &t, why);
  };
  std::string why;
  SUBCASE("text file") {
    std::string s = "this is not a cubin, just text that is long enough to hold a header......";
    CHECK_FALSE(parse(std::vector<unsigned char>(s.begin(), s.end()), &why));
    CHECK(why.find("magic") != std::string::npos);
  }
  SUBCASE("truncated header") {
    CHECK_FALSE(parse(std::vector<unsigned char>(bytes.begin(), bytes.begin() + 40), &why));
    CHECK(why.find("shorter") != std::string::npos);
  }
  SUBCASE("empty") {
    CHECK_FALSE(parse({}, &why));
  }
  SUBCASE("32-bit ELF") {
    auto b = bytes;
    b[4] = 1;
    CHECK_FALSE(parse(b, &why));
    CHECK(why.find("64-bit") != std::string::npos);
  }
  SUBCASE("big-endian ELF") {
    auto b = bytes;
    b[5] = 2;
    CHECK_FALSE(parse(b, &why));
  }
  SUBCASE("an x86-64 object (e_machine 62)") {
    auto b = bytes;
    b[18] = 62;
    b[19] = 0;
    CHECK_FALSE(parse(b, &why));
    CHECK(why.find("EM_CUDA") != std::string::npos);
  }
  SUBCASE("e_flags without SM") {
    auto b = bytes;
    b[48] = b[49] = b[50] = b[51] = 0;
    CHECK_FALSE(parse(b, &why));
  }
  SUBCASE("truncated body (header intact): the tables lie outside the file") {
    CHECK_FALSE(parse(std::vector<unsigned char>(bytes.begin(), bytes.begin() + 200), &why));
    CHECK(why.find("outside the file") != std::string::npos);
    CHECK_FALSE(parse(std::vector<unsigned char>(bytes.begin(), bytes.end() - 1), &why));
  }
  SUBCASE("section table offset beyond the file") {
    auto b = bytes;
    for (int i = 0x28; i < 0x30; ++i) b[i] = 0xff;  // e_shoff
    CHECK_FALSE(parse(b, &why));
    CHECK(why.find("section header table") != std::string::npos);
  }
  SUBCASE("one section's size beyond the file") {
    auto b = bytes;
    const uint64_t shoff = *reinterpret_cast<const uint64_t*>(&b[0x28]);
    const unsigned shnum = b[0x3c] | (b[0x3d] << 8);
    REQUIRE(shnum > 1);
    uint64_t huge = uint64_t(1) << 40;
    std::memcpy(&b[shoff + 64 * (shnum - 1) + 0x20], &huge, 8);  // last section's sh_size
    uint32_t progbits = 1;
    std::memcpy(&b[shoff + 64 * (shnum - 1) + 4], &progbits, 4);
    CHECK_FALSE(parse(b, &why));
    CHECK(why.find("section lies outside") != std::string::npos);
  }
  SUBCASE("pre-CUDA-13 layout (ABI 7): SM in the low byte, 'a' at bit 11") {
    auto b = std::vector<unsigned char>(bytes.begin(), bytes.begin() + 64);
    b[8] = 7;
    const unsigned flags = 0x005a0d5a;  // sm_90 | 64-bit | texmode | accelerators | virtual sm_90
    b[48] = flags & 0xff;
    b[49] = (flags >> 8) & 0xff;
    b[50] = (flags >> 16) & 0xff;
    b[51] = (flags >> 24) & 0xff;
    for (int i = 0x20; i < 0x30; ++i) b[i] = 0;  // no program/section tables in this image
    for (int i = 0x36; i < 0x40; ++i) b[i] = 0;
    ptxfmha::CubinTarget t;
    REQUIRE(ptxfmha::parse_cubin_target(b.data(), b.size(), &t, &why));
    CHECK(t.sm == 90);
    CHECK(t.arch_specific);
    CHECK(t.name() == "sm_90a");
  }
}

TEST_CASE("cubin files: missing file and directory") {
  ptxfmha::CubinTarget t;
  ptxfmha::clear_last_error();
  CHECK(ptxfmha::read_cubin_target("/nonexistent/dir/sm90a/k.cubin", &t, "sm90a (sm_90, cc 9.0)") ==
        PTXFMHA_ERR_CUBIN_MISSING);
  std::string msg = ptxfmha::last_error_message();
  CHECK(msg.find("/nonexistent/dir/sm90a/k.cubin") != std::string::npos);
  CHECK(msg.find("sm90a") != std::string::npos);
  CHECK(ptxfmha::read_cubin_target("/tmp", &t) == PTXFMHA_ERR_CUBIN_MISSING);  // a directory
}

TEST_CASE("module loader: missing, wrong-arch and corrupt cubins fail before the driver" *
          doctest::skip(!have_ptxas())) {
  Cubins c;
  c.mkdirs("sm90a");
  const ptxfmha::DeviceInfo dev = fake_device(9, 0);
  ptxfmha::LoadedKernel k;
  const std::size_t cache_before = ptxfmha::module_cache_size();
  ptxfmha_set_cubin_dir(c.dir.c_str());

  SUBCASE("missing cubin names the path and the device arch") {
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::get_kernel(dev, kFakeRow90, &k) == PTXFMHA_ERR_CUBIN_MISSING);
    std::string msg = ptxfmha::last_error_message();
    CHECK(msg.find(c.dir + "/sm90a/fmha_test_kernel.cubin") != std::string::npos);
    CHECK(msg.find("sm90a (sm_90, cc 9.0)") != std::string::npos);
  }
  SUBCASE("an sm_100a cubin in the sm90a folder is WRONG_ARCH") {
    c.assemble("sm_100a", "fmha_test_kernel", "sm90a/fmha_test_kernel.cubin");
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::get_kernel(dev, kFakeRow90, &k) == PTXFMHA_ERR_CUBIN_WRONG_ARCH);
    std::string msg = ptxfmha::last_error_message();
    CHECK(msg.find("fmha_test_kernel.cubin") != std::string::npos);
    CHECK(msg.find("sm_100a") != std::string::npos);  // the cubin's arch
    CHECK(msg.find("sm_90") != std::string::npos);    // the device's
  }
  SUBCASE("a corrupt cubin is CUBIN_INVALID") {
    write_all(c.dir + "/sm90a/fmha_test_kernel.cubin", {'g', 'a', 'r', 'b', 'a', 'g', 'e'});
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::get_kernel(dev, kFakeRow90, &k) == PTXFMHA_ERR_CUBIN_INVALID);
    CHECK(std::string(ptxfmha::last_error_message()).find("not a CUDA ELF") != std::string::npos);
  }
  SUBCASE("a row of another arch than the device is WRONG_ARCH") {
    const ptxfmha::DeviceInfo bw = fake_device(10, 0);
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::get_kernel(bw, kFakeRow90, &k) == PTXFMHA_ERR_CUBIN_WRONG_ARCH);
    CHECK(std::string(ptxfmha::last_error_message()).find("sm100a") != std::string::npos);
  }
  SUBCASE("a device of cc 10.3 with sm_100a cubins is WRONG_ARCH (sm_100a runs on 10.0 only)") {
    c.mkdirs("sm100a");
    c.assemble("sm_100a", "fmha_test_kernel", "sm100a/fmha_test_kernel.cubin");
    ptxfmha::KernelInfo row = kFakeRow90;
    row.arch = "sm100a";
    row.sm = 100;
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::get_kernel(fake_device(10, 3), row, &k) == PTXFMHA_ERR_CUBIN_WRONG_ARCH);
    CHECK(std::string(ptxfmha::last_error_message()).find("sm_103") != std::string::npos);
  }
  CHECK(ptxfmha::module_cache_size() == cache_before);  // failures are not cached
  ptxfmha_set_cubin_dir(nullptr);
}
