// CPU tests of the device-metadata check behind ptxfmha_check_metadata /
// ptxfmha_check_decode_metadata (host/src/metadata.cpp, check_metadata_host on host copies):
// a valid set passes; each kind of bad entry gets its status and a message naming the array,
// the index and the value of the *first* bad entry; entries the kernels never read (table
// columns past a sequence's pages) are not reported. The device copy path runs in
// tests/test_gpu_attn_metadata.cpp.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "metadata.h"
#include "runtime.h"

namespace {

using ptxfmha::MetadataHost;
using ptxfmha::MetadataSpec;

// 3 sequences: varlen Q (lengths 5, 0, 7 -> total 12, max 8), varlen K (10, 3, 20 -> total 33,
// max 20), seqused_k (10, 1, 17).
MetadataSpec varlen_spec() {
  MetadataSpec s;
  s.batch = 3;
  s.varlen_q = s.varlen_k = s.has_seqused = true;
  s.total_q = 12; s.max_seqlen_q = 8;
  s.total_k = 33; s.max_seqlen_k = 20;
  return s;
}
MetadataHost varlen_host() {
  MetadataHost m;
  m.cu_seqlens_q = {0, 5, 5, 12};
  m.cu_seqlens_k = {0, 10, 13, 33};
  m.seqused_k = {10, 1, 17};
  return m;
}

// 3 sequences over a paged pool: seqlen_k 64 (the cap), page 16, 4 columns, 10 pages;
// seqused_k (64, 17, 0) -> pages needed 4, 2, 0.
MetadataSpec paged_spec() {
  MetadataSpec s;
  s.batch = 3;
  s.paged = s.has_seqused = true;
  s.seqlen_k = 64;
  s.page_size = 16; s.max_blocks_per_seq = 4; s.num_pages = 10;
  return s;
}
MetadataHost paged_host() {
  MetadataHost m;
  m.seqused_k = {64, 17, 0};
  m.block_table = {3, 1, 4, 9,   // sequence 0: 4 pages
                   0, 7, -1, 99,  // sequence 1: columns 2, 3 never read
                   -5, 1000, 12, 13};  // sequence 2: no key, nothing read
  return m;
}

struct Row {
  const char* what;
  bool paged;
  std::function<void(MetadataSpec&, MetadataHost&)> mutate;
  ptxfmha_status expect;
  std::vector<const char*> needles;
};

}  // namespace

TEST_CASE("metadata: valid sets pass, including table entries the kernels never read") {
  ptxfmha::clear_last_error();
  CHECK(ptxfmha::check_metadata_host(varlen_spec(), varlen_host()) == PTXFMHA_OK);
  CHECK(ptxfmha::check_metadata_host(paged_spec(), paged_host()) == PTXFMHA_OK);
  // Without seqused_k every sequence needs all four pages: now sequence 1's -1 is read.
  MetadataSpec s = paged_spec();
  MetadataHost m = paged_host();
  s.has_seqused = false;
  m.seqused_k.clear();
  CHECK(ptxfmha::check_metadata_host(s, m) == PTXFMHA_ERR_INVALID_PAGE_TABLE);
  CHECK(std::string(ptxfmha::last_error_message()).find("block_table[1][2] = -1") != std::string::npos);
}

TEST_CASE("metadata: every bad entry is named (array, index, value) with its status") {
  const std::vector<Row> rows = {
      {"cu_seqlens_q[0] != 0", false, [](MetadataSpec&, MetadataHost& m) { m.cu_seqlens_q[0] = 1; },
       PTXFMHA_ERR_INVALID_METADATA, {"cu_seqlens_q[0] = 1", "must be 0"}},
      {"cu_seqlens_q decreasing", false, [](MetadataSpec&, MetadataHost& m) { m.cu_seqlens_q[2] = 4; },
       PTXFMHA_ERR_INVALID_METADATA, {"cu_seqlens_q[2] = 4", "cu_seqlens_q[1] = 5", "must not decrease"}},
      {"cu_seqlens_q past total_q", false, [](MetadataSpec& s, MetadataHost& m) { m.cu_seqlens_q = {0, 5, 13, 13}; s.max_seqlen_q = 13; },
       PTXFMHA_ERR_INVALID_METADATA, {"cu_seqlens_q[2] = 13", "total_q = 12"}},
      {"sequence longer than max_seqlen_q", false, [](MetadataSpec&, MetadataHost& m) { m.cu_seqlens_q = {0, 9, 9, 12}; },
       PTXFMHA_ERR_INVALID_METADATA, {"cu_seqlens_q[1] - cu_seqlens_q[0] = 9 - 0", "sequence 0", "max_seqlen_q = 8"}},
      {"last offset short of total_q", false, [](MetadataSpec&, MetadataHost& m) { m.cu_seqlens_q[3] = 11; },
       PTXFMHA_ERR_INVALID_METADATA, {"cu_seqlens_q[3] = 11", "last offset", "total_q = 12"}},
      {"cu_seqlens_k[0] != 0", false, [](MetadataSpec&, MetadataHost& m) { m.cu_seqlens_k[0] = -2; },
       PTXFMHA_ERR_INVALID_METADATA, {"cu_seqlens_k[0] = -2"}},
      {"cu_seqlens_k decreasing", false, [](MetadataSpec&, MetadataHost& m) { m.cu_seqlens_k[3] = 12; },
       PTXFMHA_ERR_INVALID_METADATA, {"cu_seqlens_k[3] = 12", "cu_seqlens_k[2] = 13"}},
      {"key sequence longer than max_seqlen_k", false, [](MetadataSpec& s, MetadataHost&) { s.max_seqlen_k = 19; },
       PTXFMHA_ERR_INVALID_METADATA, {"sequence 2", "max_seqlen_k = 19"}},
      {"last key offset past total_k", false, [](MetadataSpec& s, MetadataHost&) { s.total_k = 32; },
       PTXFMHA_ERR_INVALID_METADATA, {"cu_seqlens_k[3] = 33", "total_k = 32"}},
      {"seqused_k negative", false, [](MetadataSpec&, MetadataHost& m) { m.seqused_k[1] = -1; },
       PTXFMHA_ERR_INVALID_METADATA, {"seqused_k[1] = -1", "negative"}},
      {"seqused_k past the packed length", false, [](MetadataSpec&, MetadataHost& m) { m.seqused_k[1] = 4; },
       PTXFMHA_ERR_INVALID_METADATA, {"seqused_k[1] = 4", "3 keys", "cu_seqlens_k"}},
      {"seqused_k past seqlen_k (paged)", true, [](MetadataSpec&, MetadataHost& m) { m.seqused_k[0] = 65; },
       PTXFMHA_ERR_INVALID_METADATA, {"seqused_k[0] = 65", "64 keys", "seqlen_k"}},
      {"page id -1", true, [](MetadataSpec&, MetadataHost& m) { m.block_table[5] = -1; },
       PTXFMHA_ERR_INVALID_PAGE_TABLE, {"block_table[1][1] = -1", "entry 5", "num_pages = 10"}},
      {"page id == num_pages", true, [](MetadataSpec&, MetadataHost& m) { m.block_table[3] = 10; },
       PTXFMHA_ERR_INVALID_PAGE_TABLE, {"block_table[0][3] = 10"}},
      {"first bad page reported, not a later one", true,
       [](MetadataSpec&, MetadataHost& m) { m.block_table[2] = 77; m.block_table[4] = 88; },
       PTXFMHA_ERR_INVALID_PAGE_TABLE, {"block_table[0][2] = 77"}},
      {"seqused_k longer makes a column read", true, [](MetadataSpec&, MetadataHost& m) { m.seqused_k[1] = 33; },
       PTXFMHA_ERR_INVALID_PAGE_TABLE, {"block_table[1][2] = -1"}},
      {"decode names seqlens_k / max_seqlen_k", true,
       [](MetadataSpec& s, MetadataHost& m) { s.seqused_name = "seqlens_k"; s.cap_name = "max_seqlen_k"; m.seqused_k[2] = 70; },
       PTXFMHA_ERR_INVALID_METADATA, {"seqlens_k[2] = 70", "max_seqlen_k"}},
      {"array of the wrong size (caller bug)", false, [](MetadataSpec&, MetadataHost& m) { m.seqused_k.push_back(0); },
       PTXFMHA_ERR_INVALID_ARGUMENT, {"seqused_k has 4 entries, expected 3"}},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    MetadataSpec s = r.paged ? paged_spec() : varlen_spec();
    MetadataHost m = r.paged ? paged_host() : varlen_host();
    REQUIRE(ptxfmha::check_metadata_host(s, m) == PTXFMHA_OK);
    r.mutate(s, m);
    ptxfmha::clear_last_error();
    CHECK(ptxfmha::check_metadata_host(s, m) == r.expect);
    const std::string msg = ptxfmha::last_error_message();
    CAPTURE(msg);
    for (const char* n : r.needles) {
      CAPTURE(n);
      CHECK(msg.find(n) != std::string::npos);
    }
  }
}
