// GPU tests of ptxfmha_check_metadata / ptxfmha_check_decode_metadata (suite "gpu"): the
// device arrays are copied after the stream's work (a bad entry written asynchronously on
// the stream is seen), each kind of bad entry is named with its index and value, a host
// pointer is refused by name, and the call never writes anything. These run today.
//
// Run: build/tests/ptxfmha_tests -ts=gpu -tc="gpu attn metadata*"
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "attn_util.h"

using namespace ptxfmha_test;

TEST_CASE("gpu attn metadata: valid arrays pass; bad entries are named; stream order is respected" *
          doctest::test_suite("gpu")) {
  REQUIRE(ensure_context());
  AttnCase c = attn_case({5, 0, 17}, {64, 64, 64}, 4, 2, 64);
  c.varlen_q = true;
  c.page_size = 16;
  c.used = {64, 17, 0};
  const AttnHost h = make_attn_host(c, 3);
  AttnDevice dev(c, h);
  ptxfmha_attn_params a = dev.params();
  ptxfmha::clear_last_error();
  CHECK_MESSAGE(ptxfmha_check_metadata(&a) == PTXFMHA_OK, str(ptxfmha_last_error()));

  CUstream stream = nullptr;
  PTXFMHA_CU_CHECK(cu().cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  a.stream = stream;
  struct Row {
    const char* what;
    DeviceBuffer* buf;
    std::size_t index;
    int32_t value;
    ptxfmha_status expect;
    std::string needle;
  };
  const int32_t bad_page = h.num_pages + 3;
  const std::vector<Row> rows = {
      {"cu_seqlens_q[0] = 2", &dev.cu_q(), 0, 2, PTXFMHA_ERR_INVALID_METADATA, "cu_seqlens_q[0] = 2"},
      {"cu_seqlens_q decreasing", &dev.cu_q(), 2, 4, PTXFMHA_ERR_INVALID_METADATA, "cu_seqlens_q[2] = 4"},
      {"cu_seqlens_q[3] != total_q", &dev.cu_q(), 3, 21, PTXFMHA_ERR_INVALID_METADATA, "cu_seqlens_q[3] = 21"},
      {"page id past the pool", &dev.table(), std::size_t(h.mbps) + 1, bad_page, PTXFMHA_ERR_INVALID_PAGE_TABLE,
       "block_table[1][1] = " + std::to_string(bad_page)},
      {"page id -1", &dev.table(), 2, -1, PTXFMHA_ERR_INVALID_PAGE_TABLE, "block_table[0][2] = -1"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    std::vector<int32_t> saved;
    r.buf->download(saved, r.buf->bytes() / 4);
    // Written asynchronously on the stream the params name, not waited for here: the check
    // must synchronise with that stream before it copies.
    PTXFMHA_CU_CHECK(cu().cuMemsetD32Async(r.buf->ptr() + r.index * 4, uint32_t(r.value), 1, stream));
    ptxfmha::clear_last_error();
    CHECK(ptxfmha_check_metadata(&a) == r.expect);
    const std::string msg = ptxfmha_last_error();
    CAPTURE(msg);
    CHECK(msg.find(r.needle) != std::string::npos);
    r.buf->upload(saved);
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    CHECK(ptxfmha_check_metadata(&a) == PTXFMHA_OK);
  }
  // a host pointer is refused by name before anything is copied
  std::vector<int32_t> host_table(h.table);
  ptxfmha_attn_params hp = a;
  hp.block_table = host_table.data();
  CHECK(ptxfmha_check_metadata(&hp) == PTXFMHA_ERR_INVALID_ARGUMENT);
  CHECK(std::string(ptxfmha_last_error()).find("block_table") != std::string::npos);
  PTXFMHA_CU_CHECK(cu().cuStreamDestroy(stream));
}

TEST_CASE("gpu attn metadata: decode seqlens_k and block table" * doctest::test_suite("gpu")) {
  REQUIRE(ensure_context());
  AttnCase c = attn_case({2, 2}, {100, 100}, 8, 2, 128);
  c.page_size = 32;
  c.used = {100, 33};
  const AttnHost h = make_attn_host(c, 4);
  AttnDevice dev(c, h);
  ptxfmha_decode_attn_params d = dev.decode_params(0);
  CHECK_MESSAGE(ptxfmha_check_decode_metadata(&d) == PTXFMHA_OK, str(ptxfmha_last_error()));
  // the second sequence needs 2 pages: column 1 bad
  PTXFMHA_CU_CHECK(cu().cuMemsetD32(dev.table().ptr() + (std::size_t(h.mbps) + 1) * 4, uint32_t(-7), 1));
  CHECK(ptxfmha_check_decode_metadata(&d) == PTXFMHA_ERR_INVALID_PAGE_TABLE);
  CHECK(std::string(ptxfmha_last_error()).find("block_table[1][1] = -7") != std::string::npos);
}
