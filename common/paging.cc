#include "common/paging.h"

#include <google/protobuf/descriptor.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fingerprint.h"
#include "common/ids.h"
#include "common/status.h"

namespace careops {
namespace {

// The request without its paging fields, hashed with its type name so that a
// token from one list never fits another.
std::string FiltersFingerprint(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> filters(request.New());
  filters->CopyFrom(request);
  const google::protobuf::Descriptor* descriptor = filters->GetDescriptor();
  for (const char* name : {"page_size", "page_token"}) {
    if (const auto* field = descriptor->FindFieldByName(name)) {
      filters->GetReflection()->ClearField(filters.get(), field);
    }
  }
  return Fnv1a64Hex(absl::StrCat(descriptor->full_name(), "\n", DeterministicBytes(*filters)));
}

}  // namespace

absl::StatusOr<PageRequest> ParsePageRequest(const google::protobuf::Message& request, int32_t page_size,
                                             const std::string& page_token) {
  if (page_size < 0 || page_size > kMaxPageSize) {
    return InvalidArgument("page_size", absl::StrCat("must be between 0 and ", kMaxPageSize, " (0 means ",
                                                     kDefaultPageSize, ")"));
  }
  PageRequest page;
  page.limit = page_size == 0 ? kDefaultPageSize : page_size;
  if (page_token.empty()) return page;
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(page_token, &decoded)) decoded.clear();
  size_t colon = decoded.find(':');
  if (colon == std::string::npos || !IsWellFormedId(std::string_view(decoded).substr(colon + 1))) {
    return InvalidArgument("page_token", "is not a token from a previous page of this list");
  }
  if (decoded.substr(0, colon) != FiltersFingerprint(request)) {
    return InvalidArgument("page_token",
                           "was made for other filters; send the same filters as the first page, "
                           "or start again without a page_token");
  }
  page.after_id = decoded.substr(colon + 1);
  return page;
}

std::string NextPageToken(const google::protobuf::Message& request, const std::string& last_id) {
  std::string token;
  absl::WebSafeBase64Escape(absl::StrCat(FiltersFingerprint(request), ":", last_id), &token);
  return token;
}

}  // namespace careops
