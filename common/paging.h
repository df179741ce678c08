// Keyset paging for every careops List RPC.
//
// A list takes page_size (0 means kDefaultPageSize, at most kMaxPageSize) and an
// opaque page_token, and answers next_page_token (empty on the last page). The
// token is base64url("<filters fingerprint>:<last id>"): it continues after the
// last id of the previous page, and only for the request it was made for, so a
// token replayed with other filters (or on another list) is refused instead of
// silently paging a different list. The page size may change between pages.
//
//   CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
//   ...store query: WHERE id > page.after_id ORDER BY id LIMIT page.limit + 1...
//   if (more) resp->set_next_page_token(NextPageToken(*req, last_id));
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace careops {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

struct PageRequest {
  std::string after_id;  // "" for the first page
  int limit = kDefaultPageSize;
};

// INVALID_ARGUMENT naming page_size or page_token when either is not acceptable
// for `request` (a List request; its page_size and page_token fields are ignored
// when fingerprinting its filters).
absl::StatusOr<PageRequest> ParsePageRequest(const google::protobuf::Message& request, int32_t page_size,
                                             const std::string& page_token);

// The token for the page after `last_id` of `request`'s list.
std::string NextPageToken(const google::protobuf::Message& request, const std::string& last_id);

}  // namespace careops
