// A fixed set of threads that run queued jobs in arrival order: how a careops
// process runs its blocking handlers (Connector/C++ waits on MariaDB) without a
// thread per request.
//
//   WorkerPool pool({.workers = 16, .queue = 64});
//   if (!pool.Submit([&] { ... })) { /* `queue` jobs already wait: refuse now */ }
//
// Every thread is created by the constructor and none afterwards, at any load
// (tools/bench reports "threads created/req"). Submit() never blocks: with
// `queue` jobs already waiting it returns false, so the caller answers
// RESOURCE_EXHAUSTED at once instead of piling work up (common/pooled_service.h
// does, and also refuses a queued call whose deadline passed while it waited).
// The destructor runs what is queued, then joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace careops {

struct WorkerPoolOptions {
  int workers = 16;  // size it to the database pool: each running job may hold a connection
  int queue = 64;    // jobs that may wait for a worker
};

class WorkerPool {
 public:
  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`; false (and `job` is dropped unrun) when the queue is full.
  bool Submit(std::function<void()> job);

  const WorkerPoolOptions& options() const { return options_; }
  // For metrics and tests.
  int running();
  int waiting();

 private:
  void Run();

  const WorkerPoolOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace careops
