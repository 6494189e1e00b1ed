// CPU guards of the host source layout (issue 18): no file under host/src/ longer than 800
// lines (split it along its concerns instead), and every file opens with a comment saying
// what it owns. Reads the sources under $PTXFMHA_SOURCE_DIR (default: the working directory).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gpu_util.h"

namespace {
namespace fs = std::filesystem;
constexpr int kMaxHostFileLines = 800;
}  // namespace

TEST_CASE("cpu host layout: every host/src file is at most 800 lines and opens with a comment") {
  const fs::path dir = fs::path(ptxfmha_test::source_dir()) / "host" / "src";
  REQUIRE_MESSAGE(fs::is_directory(dir), "no host/src under " << dir.string());
  int files = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
    ++files;
    std::ifstream in(e.path());
    std::string line, first;
    int lines = 0;
    while (std::getline(in, line)) {
      if (lines == 0) first = line;
      ++lines;
    }
    CAPTURE(e.path().filename().string());
    CHECK(lines <= kMaxHostFileLines);
    CHECK(first.rfind("//", 0) == 0);
  }
  CHECK(files >= 20);
}
