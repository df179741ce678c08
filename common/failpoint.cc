#include "common/failpoint.h"

#ifdef CAREOPS_FAILPOINTS

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/text.h"

namespace careops {
namespace {

struct Armed {
  std::string action;
  int remaining = -1;  // -1: every hit
};

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, Armed, std::less<>>& Points() {
  static auto* points = [] {
    auto* out = new std::map<std::string, Armed, std::less<>>();
    const char* env = std::getenv("CAREOPS_FAILPOINTS");
    if (env == nullptr) return out;
    for (std::string_view item : SplitAny(env, ",", true)) {
      item = StripSpace(item);
      size_t eq = item.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view action = item.substr(eq + 1);
      Armed a;
      size_t star = action.find('*');
      if (star != std::string_view::npos && !ParseInt(action.substr(star + 1), &a.remaining)) a.remaining = -1;
      a.action = std::string(action.substr(0, star));
      (*out)[std::string(item.substr(0, eq))] = a;
    }
    return out;
  }();
  return *points;
}

// Parks the thread until the test creates <dir>/<name>.release.
void Hold(std::string_view name) {
  const char* dir = std::getenv("CAREOPS_FAILPOINT_DIR");
  if (dir == nullptr) return;
  const std::filesystem::path base(dir);
  const std::string file(name);
  std::ofstream(base / (file + ".held")) << "held\n";
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(kFailpointMaxHoldSeconds);
  std::error_code ec;
  while (!std::filesystem::exists(base / (file + ".release"), ec) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

absl::Status Failpoint(std::string_view name) {
  std::string action;
  {
    std::lock_guard<std::mutex> lock(Mu());
    auto& points = Points();
    auto it = points.find(name);
    if (it == points.end() || it->second.remaining == 0) return absl::OkStatus();
    if (it->second.remaining > 0) --it->second.remaining;
    action = it->second.action;
  }
  if (action == "exit") _exit(kFailpointExitCode);
  if (action == "deadline") return absl::DeadlineExceededError(absl::StrCat("failpoint ", Abs(name)));
  if (action == "unavailable") return absl::UnavailableError(absl::StrCat("failpoint ", Abs(name)));
  if (action == "hold") Hold(name);
  return absl::OkStatus();
}

}  // namespace careops

#endif  // CAREOPS_FAILPOINTS
