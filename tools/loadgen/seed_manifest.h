// What careops-seed made, as careops-loadgen reads it: one record per line,
//
//   # comment
//   member id=m-01H... account_id=a-01H... benefit=CONSULT
//   claim id=c-01H... state=SUBMITTED
//
// a kind, then key=value fields (values without spaces). The loadgen builds its
// request bodies from these ids, so reads hit real rows and writes reference them.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace careops::loadgen {

using SeedRecord = std::map<std::string, std::string, std::less<>>;

class SeedManifest {
 public:
  // INVALID_ARGUMENT naming the line for a field without '='.
  static absl::StatusOr<SeedManifest> Parse(std::string_view text);
  // NOT_FOUND when the file cannot be read.
  static absl::StatusOr<SeedManifest> Load(const std::string& path);

  void Add(const std::string& kind, SeedRecord record);
  // Every record of `kind`, in file order; empty when there are none.
  const std::vector<SeedRecord>& Of(std::string_view kind) const;
  // Records of `kind` whose `key` equals `value`.
  std::vector<SeedRecord> Where(std::string_view kind, std::string_view key, std::string_view value) const;
  std::string Format() const;

 private:
  std::vector<std::string> order_;  // kinds in first-seen order, for Format()
  std::map<std::string, std::vector<SeedRecord>, std::less<>> records_;
};

}  // namespace careops::loadgen
