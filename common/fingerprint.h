// Fingerprints: cheap change detectors (not MACs) for migration texts, request
// bodies (request_id replays) and list filters (page tokens).
#pragma once

#include <google/protobuf/message.h>

#include <string>

namespace careops {

// FNV-1a 64 of `text` as 16 hex digits.
std::string Fnv1a64Hex(const std::string& text);

// A message's bytes in deterministic serialization (map order fixed), for hashing.
std::string DeterministicBytes(const google::protobuf::Message& message);

}  // namespace careops
