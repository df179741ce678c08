#include "common/pooled_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/deadline.h"
#include "common/text.h"

namespace careops {
PooledService::PooledService(std::string_view service_full_name, WorkerPool& workers)
    : name_(service_full_name),
      descriptor_(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name_)),
      workers_(workers) {
  if (descriptor_ == nullptr) errors_.push_back(absl::StrCat("no service '", name_, "' in the generated protos"));
}

void PooledService::Add(std::string_view method, const google::protobuf::Descriptor* request,
                        const google::protobuf::Descriptor* response, bool server_streaming,
                        std::unique_ptr<grpc::internal::MethodHandler> handler) {
  if (descriptor_ == nullptr) return;
  const google::protobuf::MethodDescriptor* m = descriptor_->FindMethodByName(std::string(method));
  std::string what;
  if (m == nullptr) {
    what = "is not a method of the service";
  } else if (std::find(bound_.begin(), bound_.end(), method) != bound_.end()) {
    what = "has two handlers";
  } else if (m->client_streaming() || m->server_streaming() != server_streaming) {
    what = server_streaming ? "is not a server stream; bind it with Unary()"
                            : "is a stream; bind it with ServerStream()";
  } else if (m->input_type() != request || m->output_type() != response) {
    what = absl::StrCat("takes ", m->input_type()->full_name(), " and returns ", m->output_type()->full_name(),
                        "; the handler has ", request->full_name(), " -> ", response->full_name());
  }
  if (!what.empty()) {
    errors_.push_back(absl::StrCat("method '", Abs(method), "' ", what));
    return;
  }
  bound_.emplace_back(method);
  paths_.push_back(absl::StrCat("/", name_, "/", Abs(method)));
  if (server_streaming) {
    AddMethod(new grpc::internal::RpcServiceMethod(paths_.back().c_str(),
                                                   grpc::internal::RpcMethod::SERVER_STREAMING, handler.release()));
  } else {
    AddMethod(new grpc::internal::RpcServiceMethod(paths_.back().c_str(), grpc::internal::RpcMethod::NORMAL_RPC,
                                                   nullptr));
    MarkMethodCallback(static_cast<int>(bound_.size()) - 1, handler.release());
  }
}

absl::Status PooledService::Check() const {
  std::vector<std::string> problems = errors_;
  if (descriptor_ != nullptr) {
    for (int i = 0; i < descriptor_->method_count(); ++i) {
      const std::string& m = descriptor_->method(i)->name();
      if (std::find(bound_.begin(), bound_.end(), m) == bound_.end()) {
        problems.push_back(absl::StrCat("method '", m, "' has no handler (add it to the adapter's Bind())"));
      }
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(name_, ": ", absl::StrJoin(problems, "; ")));
}

grpc::ServerUnaryReactor* PooledService::Dispatch(grpc::CallbackServerContext* ctx,
                                                  std::function<grpc::Status()> call) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const absl::Time deadline = DeadlineFromChrono(ctx->deadline());
  // The reactor, context, request and response stay valid until Finish().
  const bool queued = workers_.Submit([ctx, reactor, deadline, call = std::move(call)] {
    if (ctx->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the call while it waited"));
      return;
    }
    if (absl::Now() >= deadline) {
      reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                   "the call's deadline passed while it waited for a free worker"));
      return;
    }
    CallDeadlineScope scope(deadline);
    reactor->Finish(call());
  });
  if (!queued) {
    const WorkerPoolOptions& o = workers_.options();
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 absl::StrCat("server busy: ", o.workers, " calls running and ", o.queue,
                                              " waiting; retry with backoff")));
  }
  return reactor;
}

}  // namespace careops
