#include "tools/echo/echo_service.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "common/status.h"

namespace careops::echo {
namespace {

constexpr char kRoundTrip[] = "SELECT ? AS n";

absl::Status DatabaseRoundTrip(mysql::ConnectionPool& pool, int64_t n) {
  return mysql::WithConnection(pool, [&](mysql::Connection& c) -> absl::Status {
    sql::PreparedStatement& stmt = c.Prepare(kRoundTrip);
    stmt.setInt64(1, n);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    if (!rs->next() || rs->getInt64(1) != n) return absl::InternalError("round trip returned no row");
    return absl::OkStatus();
  });
}

}  // namespace

grpc::Status Answer(const EchoWork& work, const grpc::ServerContextBase& context,
                    const v1::EchoRequest& request, v1::EchoResponse* response) {
  if (work.auth != nullptr) {
    auto caller = work.auth->Authenticate(context);
    if (!caller.ok()) return ToGrpcStatus(caller.status());
  }
  if (work.pool != nullptr) {
    absl::Status db = DatabaseRoundTrip(*work.pool, static_cast<int64_t>(request.payload().size()));
    if (!db.ok()) return ToGrpcStatus(db);
  }
  response->set_request_id(request.request_id());
  response->set_payload(request.payload());
  return grpc::Status::OK;
}

grpc::Status EchoServiceImpl::Echo(grpc::ServerContext* context, const v1::EchoRequest* request,
                                   v1::EchoResponse* response) {
  return Answer(work_, *context, *request, response);
}

grpc::ServerUnaryReactor* EchoCallbackServiceImpl::Echo(grpc::CallbackServerContext* context,
                                                        const v1::EchoRequest* request,
                                                        v1::EchoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(Answer(work_, *context, *request, response));
  return reactor;
}

grpc::Status EchoPooledAdapter::Echo(grpc::ServerContextBase* context, const v1::EchoRequest* request,
                                     v1::EchoResponse* response) {
  return Answer(work_, *context, *request, response);
}

}  // namespace careops::echo
