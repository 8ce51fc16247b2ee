#pragma once

#include <memory>

#include "grpcpp/support/server_interceptor.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"

namespace llmproxy::controlplane {

// Creates a server interceptor per RPC that observes
// llmproxy_controlplane_rpc_duration_seconds{method,code}: the time from the
// call's arrival to its status being sent. `method` is the full gRPC method
// without the leading slash ("llmproxy.v1.AdminService/CreateConnection"),
// `code` the status code name ("OK", "NOT_FOUND", ...). Every service of the
// server is covered, reflection and health included.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRpcMetricsInterceptorFactory(
    prometheus::Family<prometheus::Histogram>& rpc_duration);

}  // namespace llmproxy::controlplane
