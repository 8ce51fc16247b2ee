#pragma once

#include <string>

#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace llmproxy::controlplane {

// Checks the bearer token of a gRPC call ("authorization: Bearer <token>").
//
// Two roles: admins (AdminService, UsageService.QueryUsage) and data planes
// (ConfigDiscoveryService.StreamConfig, UsageService.ReportUsage); the admin
// token is accepted wherever the data-plane token is. An empty admin token
// means admin calls are open (main only allows that on a loopback address);
// an empty data-plane token means data planes must use the admin token, or
// nothing at all when both are empty (loopback dev mode).
//
// Refusals are UNAUTHENTICATED and never echo what the caller sent.
class TokenAuthenticator {
 public:
  TokenAuthenticator(std::string admin_token, std::string dataplane_token);

  grpc::Status CheckAdmin(const grpc::ServerContextBase& context) const;
  grpc::Status CheckDataPlane(const grpc::ServerContextBase& context) const;

 private:
  // The SHA-256 of each token, compared in constant time so response timing
  // says nothing about how much of a guess was right.
  std::string admin_hash_;
  std::string dataplane_hash_;
};

}  // namespace llmproxy::controlplane
