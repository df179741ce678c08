#include "tools/loadgen/driver.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"

namespace careops::loadgen {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double CpuSeconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(r.ru_utime) + seconds(r.ru_stime);
}

// Sleeps until `when`. The pacing threads ask for a 1us timer slack (PreciseTimers),
// so they wake on time without spinning on a core the server needs.
void SleepUntil(int64_t when) {
  for (int64_t left = when - Now(); left > 0; left = when - Now()) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(left));
  }
}

// Called first on a pacing thread: wake from sleeps within ~1us of the request
// instead of the default 50us slack, which would show up as latency.
void PreciseTimers() { prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); }

// What one thread measured; merged at the end, so the hot path takes no lock.
struct alignas(64) Shard {
  LatencyRecorder latency;
  ErrorCounts outcomes;
  uint64_t ok_received_in_window = 0;
};

// The measured window and the counters the progress line shows.
struct Window {
  explicit Window(const RunOptions& o)
      : start(Now()),
        t0(start + absl::ToInt64Nanoseconds(o.warmup)),
        t1(t0 + absl::ToInt64Nanoseconds(o.duration)) {}
  // Whether a request belongs to the measurement: it was due (open) or started (closed) in the window.
  bool Measured(int64_t intended) const { return intended >= t0 && intended < t1; }
  // Counts an answer towards the delivered rate: an OK received in the window, whenever it was due.
  void CountDelivered(Shard& shard, int code, int64_t received) const {
    if (code == 0 && received >= t0 && received < t1) ++shard.ok_received_in_window;
  }
  const int64_t start, t0, t1;
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<int64_t> in_flight{0};
};

// Prints a progress line on stderr once a second until stopped.
class Progress {
 public:
  Progress(const RunOptions& options, const Window& window) : options_(options), window_(window) {
    if (options.progress) thread_ = std::thread([this] { Loop(); });
  }
  ~Progress() { Stop(); }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
      if (tty_) std::fputs("\n", stderr);
    }
  }

 private:
  void Loop() {
    tty_ = isatty(STDERR_FILENO) != 0;
    uint64_t last = 0;
    int64_t last_time = Now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
      int64_t now = Now();
      uint64_t done = window_.completed.load();
      double rate = static_cast<double>(done - last) * 1e9 / static_cast<double>(now - last_time);
      last = done;
      last_time = now;
      const char* phase = now < window_.t0 ? "warm-up" : now < window_.t1 ? "measure" : "drain";
      double elapsed = static_cast<double>(now - window_.start) / 1e9;
      double total = static_cast<double>(window_.t1 - window_.start) / 1e9;
      std::string line = absl::StrFormat("%s %-7s %5.1fs/%.0fs  %9.1f req/s  done %u  errors %u  in flight %d",
                                         options_.scenario_name, phase, elapsed, total, rate, done,
                                         window_.failed.load(), window_.in_flight.load());
      std::fprintf(stderr, tty_ ? "\r%s\033[K" : "%s\n", line.c_str());
      std::fflush(stderr);
    }
  }

  const RunOptions& options_;
  const Window& window_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool tty_ = false;
  std::thread thread_;
};

RunSummary Summarise(const RunOptions& options, std::vector<Shard>& shards, double cpu_seconds) {
  RunSummary summary;
  summary.scenario = options.scenario_name;
  summary.target = options.target;
  summary.mode = options.rate > 0 ? "open" : "closed";
  summary.concurrency = options.concurrency;
  summary.channels = options.channels;
  summary.target_rate = options.rate;
  summary.warmup_seconds = absl::ToDoubleSeconds(options.warmup);
  summary.seconds = absl::ToDoubleSeconds(options.duration);
  LatencyRecorder all;
  for (Shard& s : shards) {
    all.Merge(s.latency);
    summary.outcomes.Merge(s.outcomes);
    summary.ok_received_in_window += s.ok_received_in_window;
  }
  summary.latency = all.Summarise();
  summary.cpu_seconds = cpu_seconds;
  return summary;
}

// Waits through the window and returns the CPU seconds spent inside it.
double MeasureCpu(const Window& window) {
  PreciseTimers();
  SleepUntil(window.t0);
  double before = CpuSeconds();
  SleepUntil(window.t1);
  return CpuSeconds() - before;
}

void WaitForDrain(const Window& window, absl::Duration deadline) {
  int64_t give_up = Now() + absl::ToInt64Nanoseconds(deadline + absl::Seconds(5));
  while (window.in_flight.load() > 0 && Now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// One unary call in flight; its address is the completion-queue tag.
struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  int64_t intended = 0;
  int channel = 0;
};

class GrpcRun {
 public:
  GrpcRun(GrpcScenario& scenario, const RunOptions& options)
      : scenario_(scenario),
        options_(options),
        closed_loop_(options.rate <= 0),
        authorization_(options.token.empty() ? "" : "Bearer " + options.token) {
    for (int i = 0; i < std::max(1, options.channels); ++i) {
      grpc::ChannelArguments args;
      // Without these, channels with equal arguments share one TCP connection.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("careops.loadgen.channel", i);
      args.SetMaxReceiveMessageSize(-1);
      auto channel = grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
      stubs_.push_back(std::make_unique<grpc::GenericStub>(channel));
    }
    for (int i = 0; i < std::max(1, options.threads); ++i) {
      queues_.push_back(std::make_unique<grpc::CompletionQueue>());
    }
  }

  RunSummary Run() {
    window_ = std::make_unique<Window>(options_);
    // One shard per completion queue, and the last for requests the pacer never sent.
    std::vector<Shard> shards(queues_.size() + 1);
    Progress progress(options_, *window_);
    std::vector<std::thread> pollers;
    for (size_t i = 0; i < queues_.size(); ++i) {
      pollers.emplace_back([this, i, &shards] { Poll(*queues_[i], shards[i], static_cast<int>(i)); });
    }
    std::thread pacer;
    if (closed_loop_) {
      for (int i = 0; i < options_.concurrency; ++i) Start(i % stubs_.size(), i % queues_.size(), Now());
    } else {
      pacer = std::thread([this, &shards] { Pace(shards.back()); });
    }
    double cpu = MeasureCpu(*window_);
    stopping_ = true;
    if (pacer.joinable()) pacer.join();
    WaitForDrain(*window_, options_.deadline);
    progress.Stop();
    for (auto& q : queues_) q->Shutdown();
    for (auto& t : pollers) t.join();
    return Summarise(options_, shards, cpu);
  }

 private:
  void Start(size_t channel, size_t queue, int64_t intended) {
    auto* call = new Call;
    call->intended = intended;
    call->channel = static_cast<int>(channel);
    call->context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(options_.deadline));
    if (!authorization_.empty()) call->context.AddMetadata("authorization", authorization_);
    grpc::ByteBuffer request = scenario_.Request(seq_.fetch_add(1));
    window_->in_flight.fetch_add(1);
    call->reader = stubs_[channel]->PrepareUnaryCall(&call->context, scenario_.method(), request, queues_[queue].get());
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  }

  void Poll(grpc::CompletionQueue& queue, Shard& shard, int index) {
    void* tag = nullptr;
    bool ok = false;
    while (queue.Next(&tag, &ok)) {
      auto* call = static_cast<Call*>(tag);
      int64_t now = Now();
      int code = static_cast<int>(call->status.error_code());
      if (window_->Measured(call->intended)) {
        shard.latency.Record(now - call->intended);
        shard.outcomes.Add(code);
      }
      window_->CountDelivered(shard, code, now);
      window_->completed.fetch_add(1, std::memory_order_relaxed);
      if (code != 0) window_->failed.fetch_add(1, std::memory_order_relaxed);
      if (closed_loop_ && !stopping_.load() && now < window_->t1) Start(call->channel, index, now);
      delete call;
      // After the replacement started, so in_flight never reads 0 while the loop runs.
      window_->in_flight.fetch_sub(1);
    }
  }

  // Sends every request due in the window, including those still due when the
  // window closes (a slow server must not shorten its own test). Beyond the
  // in-flight limit the schedule slips and the slip shows up as latency; requests
  // that could not be sent within a deadline after the window count as
  // DEADLINE_EXCEEDED.
  void Pace(Shard& unsent) {
    PreciseTimers();
    ArrivalSchedule schedule(window_->start, options_.rate);
    const int64_t give_up = window_->t1 + absl::ToInt64Nanoseconds(options_.deadline);
    for (uint64_t i = 0;; ++i) {
      int64_t due = schedule.Due(i);
      if (due >= window_->t1) return;
      SleepUntil(due);
      while (window_->in_flight.load() >= options_.concurrency && Now() < give_up) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      if (Now() >= give_up) {
        for (; schedule.Due(i) < window_->t1; ++i) {
          if (window_->Measured(schedule.Due(i))) unsent.outcomes.Add(4);
        }
        return;
      }
      Start(i % stubs_.size(), i % queues_.size(), due);
    }
  }

  GrpcScenario& scenario_;
  const RunOptions& options_;
  const bool closed_loop_;
  const std::string authorization_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::unique_ptr<Window> window_;
  std::atomic<uint64_t> seq_{0};
  std::atomic<bool> stopping_{false};
};

class BlockingRun {
 public:
  BlockingRun(BlockingScenario& scenario, const RunOptions& options)
      : scenario_(scenario), options_(options), closed_loop_(options.rate <= 0) {}

  RunSummary Run() {
    window_ = std::make_unique<Window>(options_);
    std::vector<Shard> shards(static_cast<size_t>(std::max(1, options_.concurrency)));
    Progress progress(options_, *window_);
    std::vector<std::thread> workers;
    for (Shard& shard : shards) {
      workers.emplace_back([this, &shard] { closed_loop_ ? ClosedLoop(shard) : OpenLoop(shard); });
    }
    std::thread pacer;
    if (!closed_loop_) pacer = std::thread([this] { Pace(); });
    double cpu = MeasureCpu(*window_);
    if (pacer.joinable()) pacer.join();  // every arrival of the window is queued
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers) w.join();
    progress.Stop();
    return Summarise(options_, shards, cpu);
  }

 private:
  void Once(Shard& shard, int64_t intended) {
    window_->in_flight.fetch_add(1);
    absl::Status status = scenario_.Call(seq_.fetch_add(1));
    int64_t now = Now();
    window_->in_flight.fetch_sub(1);
    int code = static_cast<int>(status.code());
    if (window_->Measured(intended)) {
      shard.latency.Record(now - intended);
      shard.outcomes.Add(code);
    }
    window_->CountDelivered(shard, code, now);
    window_->completed.fetch_add(1, std::memory_order_relaxed);
    if (code != 0) window_->failed.fetch_add(1, std::memory_order_relaxed);
  }

  void ClosedLoop(Shard& shard) {
    while (true) {
      int64_t now = Now();
      if (now >= window_->t1) return;
      Once(shard, now);
    }
  }

  void OpenLoop(Shard& shard) {
    while (true) {
      int64_t due;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !due_.empty(); });
        if (due_.empty()) return;  // the pacer has finished and the backlog is done
        due = due_.front();
        due_.pop_front();
      }
      // A backlog still queued a deadline after the window is not run, but counted.
      if (Now() >= window_->t1 + absl::ToInt64Nanoseconds(options_.deadline)) {
        if (window_->Measured(due)) shard.outcomes.Add(4);
        continue;
      }
      Once(shard, due);
    }
  }

  void Pace() {
    PreciseTimers();
    ArrivalSchedule schedule(window_->start, options_.rate);
    for (uint64_t i = 0;; ++i) {
      int64_t due = schedule.Due(i);
      if (due >= window_->t1) return;
      SleepUntil(due);
      {
        std::lock_guard<std::mutex> lock(mu_);
        due_.push_back(due);
      }
      cv_.notify_one();
    }
  }

  BlockingScenario& scenario_;
  const RunOptions& options_;
  const bool closed_loop_;
  std::unique_ptr<Window> window_;
  std::atomic<uint64_t> seq_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int64_t> due_;  // open loop: arrivals not yet taken by a worker
  bool stopping_ = false;
};

}  // namespace

RunSummary RunGrpc(GrpcScenario& scenario, const RunOptions& options) {
  GrpcRun run(scenario, options);
  return run.Run();
}

RunSummary RunBlocking(BlockingScenario& scenario, const RunOptions& options) {
  BlockingRun run(scenario, options);
  return run.Run();
}

}  // namespace careops::loadgen
