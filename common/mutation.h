// The mutation context: who changes what, when, and under which request_id.
//
// Every mutating RPC of every careops service builds one MutationContext in its
// adapter (the handler wrapper in common/rpc.h supplies caller, method and now)
// and hands it to its store, which runs the change with RunMutation()
// (common/mysql/mutation_runner.h): exactly once per (caller, method, request_id),
// in one transaction with its audit entry and any outbox intents.
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "absl/time/time.h"
#include "common/auth.h"

namespace careops {

struct MutationContext {
  Principal caller;        // authenticated and authorized
  std::string method;      // RPC name, e.g. "ApproveClaim": part of the idempotency key
  std::string request_id;  // the client's; validated by the wrapper
  const google::protobuf::Message* request = nullptr;  // fingerprinted: same id + other request = ALREADY_EXISTS
  google::protobuf::Message* response = nullptr;       // filled by the change, stored, replayed
  absl::Time now;          // from the injected clock, microsecond precision
};

}  // namespace careops
