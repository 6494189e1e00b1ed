// GPU test (suite "gpu-fwd"): concurrent ptxfmha_fwd calls from several host threads, each
// on its own stream, on one device; every result bitwise equal to the single-threaded one.
// The first calls of the threads race on the module cache too (it is emptied per context
// only by forget_context_modules, so the cubins may already be loaded by earlier tests).
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gpu_util.h"

using namespace ptxfmha_test;

TEST_CASE("gpu fwd: concurrent calls from several threads and streams equal single-threaded results" *
          doctest::test_suite("gpu-fwd")) {
  REQUIRE(ensure_context());
  const auto rows = testable_fwd_rows();
  REQUIRE(!rows.empty());
  constexpr int kThreads = 4, kCasesPerThread = 3, kRepeats = 3;
  const int shapes[][4] = {{1, 130, 257, 1}, {2, 64, 64, 0}, {1, 300, 129, 1}, {1, 511, 700, 0},
                           {3, 17, 33, 1},   {1, 128, 1000, 0}};

  // Cases and their single-threaded (default stream) results.
  std::vector<std::unique_ptr<FwdDeviceCase>> cases;
  std::vector<FwdOutputs> expected;
  for (int t = 0; t < kThreads; ++t)
    for (int c = 0; c < kCasesPerThread; ++c) {
      const int idx = t * kCasesPerThread + c;
      const auto& s = shapes[idx % 6];
      const ptxfmha::KernelInfo* row = rows[static_cast<std::size_t>(idx) % rows.size()];
      FwdProblem p = fwd_problem(s[0], s[1], s[2], 4, (idx % 2) ? 1 : 4, row->head_dim, s[3] != 0);
      const FwdHostInputs in = random_inputs(p, 1000 + idx);
      cases.push_back(std::make_unique<FwdDeviceCase>(p, in));
      FwdOutputs out;
      cases.back()->run(&out);
      expected.push_back(std::move(out));
    }

  // All threads start together; each enqueues its cases (poison + launch) on its own stream
  // back to back, then synchronises and compares.
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::string> errors(kThreads);
  std::vector<int> mismatches(kThreads, 0);
  auto worker = [&](int t) {
    {
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return go; });
    }
    ptxfmha::DeviceInfo info;
    if (ptxfmha::acquire_context(&info) != PTXFMHA_OK) {
      errors[t] = std::string("acquire_context: ") + ptxfmha_last_error();
      return;
    }
    CUstream stream = nullptr;
    CUresult r = cu().cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING);
    if (r != CUDA_SUCCESS) {
      errors[t] = ptxfmha::cu_error_message(r, "cuStreamCreate");
      return;
    }
    for (int rep = 0; rep < kRepeats && errors[t].empty(); ++rep) {
      for (int c = 0; c < kCasesPerThread; ++c) {
        FwdDeviceCase& dc = *cases[static_cast<std::size_t>(t * kCasesPerThread + c)];
        const FwdProblem& p = dc.problem();
        r = cu().cuMemsetD16Async(dc.o_buffer().ptr(), kPoisonBf16, static_cast<std::size_t>(p.o.elems), stream);
        if (r == CUDA_SUCCESS)
          r = cu().cuMemsetD32Async(dc.lse_buffer().ptr(), kPoisonF32,
                                    static_cast<std::size_t>(std::max<int64_t>(p.lse_elems(), 1)), stream);
        if (r != CUDA_SUCCESS) {
          errors[t] = ptxfmha::cu_error_message(r, "poison");
          break;
        }
        ptxfmha_fwd_params a = dc.params(stream);
        const ptxfmha_status st = ptxfmha_fwd(&a);
        if (st != PTXFMHA_OK) {
          errors[t] = std::string("ptxfmha_fwd: ") + ptxfmha_status_string(st) + ": " + ptxfmha_last_error();
          break;
        }
      }
      r = cu().cuStreamSynchronize(stream);
      if (r != CUDA_SUCCESS) {
        errors[t] = ptxfmha::cu_error_message(r, "cuStreamSynchronize");
        break;
      }
      for (int c = 0; c < kCasesPerThread; ++c) {
        const std::size_t idx = static_cast<std::size_t>(t * kCasesPerThread + c);
        FwdDeviceCase& dc = *cases[idx];
        FwdOutputs got;
        got.o.resize(static_cast<std::size_t>(dc.problem().o.elems));
        r = cu().cuMemcpyDtoHAsync(got.o.data(), dc.o_buffer().ptr(),
                                   got.o.size() * 2, stream);
        if (r == CUDA_SUCCESS && dc.problem().with_lse) {
          got.lse.resize(static_cast<std::size_t>(dc.problem().lse_elems()));
          r = cu().cuMemcpyDtoHAsync(got.lse.data(), dc.lse_buffer().ptr(),
                                     got.lse.size() * 4, stream);
        }
        if (r == CUDA_SUCCESS) r = cu().cuStreamSynchronize(stream);
        if (r != CUDA_SUCCESS) {
          errors[t] = ptxfmha::cu_error_message(r, "download");
          break;
        }
        if (!(got == expected[idx])) ++mismatches[t];
      }
    }
    cu().cuStreamDestroy(stream);
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) pool.emplace_back(worker, t);
  {
    std::lock_guard<std::mutex> lock(m);
    go = true;
  }
  cv.notify_all();
  for (auto& th : pool) th.join();

  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    CHECK_MESSAGE(errors[t].empty(), "thread " << t << ": " << errors[t]);
    CHECK_MESSAGE(mismatches[t] == 0, "thread " << t << ": " << mismatches[t]
                                                << " results differ bitwise from the single-threaded run");
  }
  MESSAGE("concurrency: " << kThreads << " threads x " << kCasesPerThread << " cases x " << kRepeats
                          << " repeats, own stream each");
}
