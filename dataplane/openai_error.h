#pragma once

#include <string>
#include <string_view>

namespace llmproxy::dataplane {

// An error answered to the client in OpenAI's shape:
//   {"error":{"message":…,"type":…,"param":…|null,"code":…|null}}
// Clients written for OpenAI parse exactly this, so every error the proxy
// itself produces goes through here (provider errors pass through untouched).
struct ApiError {
  int status = 500;
  std::string message;
  std::string type;
  // Empty means JSON null.
  std::string param;
  // Empty means JSON null.
  std::string code;

  // The JSON body.
  std::string ToJson() const;
};

// Constructors for the errors DESIGN.md lists, so status, type and code stay
// consistent everywhere they are produced.
ApiError InvalidApiKey(std::string message);                            // 401
ApiError ModelNotAllowed(std::string_view model);                       // 403
ApiError ModelNotFound(std::string_view model);                         // 404
ApiError UnknownUrl(std::string_view method, std::string_view target);  // 404
ApiError MethodNotAllowed(std::string_view method,
                          std::string_view target);  // 405
ApiError InvalidJson(std::string message);           // 400
ApiError MissingParameter(std::string_view param);   // 400
ApiError InvalidParameterType(std::string_view param,
                              std::string_view expected);  // 400
ApiError BadRequest(std::string message);                  // 400
ApiError RequestTooLarge(std::size_t limit);               // 413
ApiError NoUsableDeployment(std::string_view model);       // 503
ApiError ConfigNotLoaded();                                // 503
ApiError ShuttingDown();                                   // 503
ApiError UpstreamConnectFailed(std::string message);       // 502
ApiError BadUpstreamResponse(std::string message);         // 502
ApiError UpstreamTimeout(std::string message);             // 504
ApiError InternalError(std::string message);               // 500

}  // namespace llmproxy::dataplane
