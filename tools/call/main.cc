// careops-call: call any careops RPC from the command line with a JSON request.
//
//   careops-call [--token=dev-manager] [--request_id=...] [--timeout=10s]
//       [--tls_cert=C --tls_key=K --tls_ca=CA] HOST:PORT
//       careops.claims.v1.ClaimsService/GetClaim '{"claimId": "01J..."}'
//
// With the --tls_* files (tools/dev up writes a client certificate under
// .run/tls/) it connects over mutual TLS; without them, plaintext. The token
// (a development token or a JWT) names the person calling.
// The request JSON uses protobuf's JSON mapping (lowerCamelCase field names).
// Prints the response as JSON on stdout, or the status code and message on
// stderr with exit code 1. Every careops contract linked into this binary can be
// called; there is no grpcurl on Debian bookworm, and this needs no reflection.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/config.h"

namespace {

namespace pb = google::protobuf;

int Fail(const std::string& why) {
  std::cerr << "careops-call: " << why << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  careops::FlagSet flags("call");
  std::string token, request_id;
  absl::Duration timeout = absl::Seconds(10);
  flags.String("token", &token, "bearer token of the caller (see tools/dev-tokens)");
  flags.String("request_id", &request_id, "x-request-id metadata for tracing");
  flags.Duration("timeout", &timeout, "deadline of the call");
  careops::TlsFiles tls;
  careops::RegisterTlsFlags(flags, tls);
  std::vector<const char*> args;
  std::vector<std::string> positional;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && argv[i][0] != '-') {
      positional.push_back(argv[i]);
    } else {
      args.push_back(argv[i]);
    }
  }
  if (auto s = flags.Parse(static_cast<int>(args.size()), args.data(), careops::EnvFromProcess()); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  if (positional.size() < 2 || positional.size() > 3) {
    std::cerr << "usage: careops-call [--token=T] HOST:PORT package.Service/Method ['{json}']\n" << flags.Usage();
    return 2;
  }
  const std::string& target = positional[0];
  const std::string& full = positional[1];
  std::string json = positional.size() == 3 ? positional[2] : "{}";
  auto slash = full.find('/');
  if (slash == std::string::npos) return Fail("method must be package.Service/Method");
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  const pb::ServiceDescriptor* service = pool->FindServiceByName(full.substr(0, slash));
  if (service == nullptr) return Fail(absl::StrCat("unknown service ", full.substr(0, slash)));
  const pb::MethodDescriptor* method = service->FindMethodByName(full.substr(slash + 1));
  if (method == nullptr) return Fail(absl::StrCat("unknown method ", full));
  if (method->client_streaming()) return Fail("client-streaming methods are not supported");

  pb::DynamicMessageFactory factory(pool);
  std::unique_ptr<pb::Message> request(factory.GetPrototype(method->input_type())->New());
  if (auto s = pb::util::JsonStringToMessage(json, request.get()); !s.ok()) {
    return Fail(absl::StrCat("request JSON: ", s.ToString()));
  }
  std::string bytes;
  request->SerializeToString(&bytes);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer send(&slice, 1);

  auto credentials = careops::ChannelCredentialsFor(tls);
  if (!credentials.ok()) return Fail(std::string(credentials.status().message()));
  auto channel = grpc::CreateChannel(target, *credentials);
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  if (!request_id.empty()) ctx.AddMetadata("x-request-id", request_id);
  const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());

  auto print = [&](const grpc::ByteBuffer& buffer) -> bool {
    std::vector<grpc::Slice> slices;
    buffer.Dump(&slices);
    std::string data;
    for (auto& s : slices) data.append(reinterpret_cast<const char*>(s.begin()), s.size());
    std::unique_ptr<pb::Message> response(factory.GetPrototype(method->output_type())->New());
    if (!response->ParseFromString(data)) return false;
    std::string out;
    pb::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = false;
    (void)pb::util::MessageToJsonString(*response, &out, options);
    std::cout << out;
    return true;
  };

  grpc::Status status;
  if (method->server_streaming()) {
    grpc::CompletionQueue cq;
    auto call = stub.PrepareCall(&ctx, path, &cq);
    void* tag;
    bool ok;
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    call->Write(send, grpc::WriteOptions().set_last_message(), reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    while (true) {
      grpc::ByteBuffer in;
      call->Read(&in, reinterpret_cast<void*>(3));
      cq.Next(&tag, &ok);
      if (!ok) break;
      print(in);
    }
    call->Finish(&status, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
  } else {
    grpc::ByteBuffer recv;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    stub.UnaryCall(&ctx, path, grpc::StubOptions(), &send, &recv, [&](grpc::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      status = std::move(s);
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    if (status.ok() && !print(recv)) return Fail("could not decode the response");
  }
  if (!status.ok()) {
    std::cerr << "ERROR " << status.error_code() << ": " << status.error_message() << "\n";
    return 1;
  }
  return 0;
}
