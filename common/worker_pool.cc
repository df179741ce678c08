#include "common/worker_pool.h"

#include <algorithm>

namespace careops {

WorkerPool::WorkerPool(WorkerPoolOptions options) : options_(options) {
  const int n = std::max(1, options_.workers);
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool WorkerPool::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A job may start at once when a worker is idle; only the jobs beyond the idle
    // workers count against the queue.
    const int idle = static_cast<int>(threads_.size()) - running_;
    if (static_cast<int>(jobs_.size()) - std::max(0, idle) >= options_.queue) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    job();
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
  }
}

int WorkerPool::running() {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

int WorkerPool::waiting() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(jobs_.size());
}

}  // namespace careops
