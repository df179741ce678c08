#include "tools/echo/echo_service.h"

#include "common/status.h"

namespace careops::echo {

grpc::Status Answer(const Authenticator* auth, const grpc::ServerContextBase& context,
                    const v1::EchoRequest& request, v1::EchoResponse* response) {
  if (auth != nullptr) {
    auto caller = auth->Authenticate(context);
    if (!caller.ok()) return ToGrpcStatus(caller.status());
  }
  response->set_request_id(request.request_id());
  response->set_payload(request.payload());
  return grpc::Status::OK;
}

grpc::Status EchoServiceImpl::Echo(grpc::ServerContext* context, const v1::EchoRequest* request,
                                   v1::EchoResponse* response) {
  return Answer(auth_, *context, *request, response);
}

grpc::ServerUnaryReactor* EchoCallbackServiceImpl::Echo(grpc::CallbackServerContext* context,
                                                        const v1::EchoRequest* request,
                                                        v1::EchoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(Answer(auth_, *context, *request, response));
  return reactor;
}

}  // namespace careops::echo
