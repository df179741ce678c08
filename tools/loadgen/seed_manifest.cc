#include "tools/loadgen/seed_manifest.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/text.h"

namespace careops::loadgen {

absl::StatusOr<SeedManifest> SeedManifest::Parse(std::string_view text) {
  SeedManifest manifest;
  int line_number = 0;
  for (std::string_view line : SplitAny(text, "\n", false)) {
    ++line_number;
    line = StripSpace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> words = SplitAny(line, " \t", true);
    SeedRecord record;
    for (size_t i = 1; i < words.size(); ++i) {
      size_t eq = words[i].find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return absl::InvalidArgumentError(absl::StrCat("seed manifest line ", line_number, ": field '",
                                                       Abs(words[i]), "' is not key=value"));
      }
      record.emplace(std::string(words[i].substr(0, eq)), std::string(words[i].substr(eq + 1)));
    }
    manifest.Add(std::string(words[0]), std::move(record));
  }
  return manifest;
}

absl::StatusOr<SeedManifest> SeedManifest::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("seed manifest: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

void SeedManifest::Add(const std::string& kind, SeedRecord record) {
  auto [it, inserted] = records_.try_emplace(kind);
  if (inserted) order_.push_back(kind);
  it->second.push_back(std::move(record));
}

const std::vector<SeedRecord>& SeedManifest::Of(std::string_view kind) const {
  static const std::vector<SeedRecord> kNone;
  auto it = records_.find(kind);
  return it == records_.end() ? kNone : it->second;
}

std::vector<SeedRecord> SeedManifest::Where(std::string_view kind, std::string_view key,
                                            std::string_view value) const {
  std::vector<SeedRecord> out;
  for (const SeedRecord& r : Of(kind)) {
    auto it = r.find(key);
    if (it != r.end() && it->second == value) out.push_back(r);
  }
  return out;
}

std::string SeedManifest::Format() const {
  std::string out;
  for (const std::string& kind : order_) {
    for (const SeedRecord& r : records_.at(kind)) {
      out += kind;
      for (const auto& [k, v] : r) absl::StrAppend(&out, " ", k, "=", v);
      out += "\n";
    }
  }
  return out;
}

}  // namespace careops::loadgen
