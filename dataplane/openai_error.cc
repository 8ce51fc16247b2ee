#include "dataplane/openai_error.h"

#include <string>
#include <utility>

#include "boost/json/object.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"

namespace llmproxy::dataplane {
namespace {

ApiError Make(int status, std::string message, std::string type,
              std::string param, std::string code) {
  return ApiError{status, std::move(message), std::move(type), std::move(param),
                  std::move(code)};
}

}  // namespace

std::string ApiError::ToJson() const {
  boost::json::object error;
  error["message"] = message;
  error["type"] = type;
  error["param"] =
      param.empty() ? boost::json::value(nullptr) : boost::json::value(param);
  error["code"] =
      code.empty() ? boost::json::value(nullptr) : boost::json::value(code);
  boost::json::object root;
  root["error"] = std::move(error);
  return boost::json::serialize(root);
}

ApiError InvalidApiKey(std::string message) {
  return Make(401, std::move(message), "invalid_request_error", "",
              "invalid_api_key");
}

ApiError ModelNotAllowed(std::string_view model) {
  return Make(403,
              "This API key is not allowed to use the model '" +
                  std::string(model) + "'.",
              "permission_error", "model", "model_not_allowed");
}

ApiError ModelNotFound(std::string_view model) {
  return Make(404, "The model '" + std::string(model) + "' does not exist.",
              "invalid_request_error", "model", "model_not_found");
}

ApiError UnknownUrl(std::string_view method, std::string_view target) {
  return Make(
      404,
      "Invalid URL (" + std::string(method) + " " + std::string(target) + ")",
      "invalid_request_error", "", "unknown_url");
}

ApiError MethodNotAllowed(std::string_view method, std::string_view target) {
  return Make(405,
              "Method " + std::string(method) + " is not allowed on " +
                  std::string(target) + ".",
              "invalid_request_error", "", "method_not_allowed");
}

ApiError InvalidJson(std::string message) {
  return Make(400, "The request body is not valid JSON: " + message,
              "invalid_request_error", "", "invalid_json");
}

ApiError MissingParameter(std::string_view param) {
  return Make(400, "Missing required parameter: '" + std::string(param) + "'.",
              "invalid_request_error", std::string(param),
              "missing_required_parameter");
}

ApiError InvalidParameterType(std::string_view param,
                              std::string_view expected) {
  return Make(400,
              "Invalid type for '" + std::string(param) + "': expected " +
                  std::string(expected) + ".",
              "invalid_request_error", std::string(param), "invalid_type");
}

ApiError BadRequest(std::string message) {
  return Make(400, std::move(message), "invalid_request_error", "",
              "bad_request");
}

ApiError RequestTooLarge(std::size_t limit) {
  return Make(413,
              "The request body exceeds the limit of " + std::to_string(limit) +
                  " bytes.",
              "invalid_request_error", "", "request_too_large");
}

ApiError NoUsableDeployment(std::string_view model) {
  return Make(503,
              "No usable deployment of the model '" + std::string(model) +
                  "' is available.",
              "service_unavailable", "model", "no_usable_deployment");
}

ApiError ConfigNotLoaded() {
  return Make(503,
              "The proxy has not received its configuration yet; retry "
              "shortly.",
              "service_unavailable", "", "config_not_loaded");
}

ApiError ShuttingDown() {
  return Make(503, "The proxy is shutting down.", "service_unavailable", "",
              "shutting_down");
}

ApiError UpstreamConnectFailed(std::string message) {
  return Make(502, std::move(message), "upstream_error", "",
              "upstream_connect_failed");
}

ApiError BadUpstreamResponse(std::string message) {
  return Make(502, std::move(message), "upstream_error", "",
              "bad_upstream_response");
}

ApiError UpstreamTimeout(std::string message) {
  return Make(504, std::move(message), "upstream_error", "",
              "upstream_timeout");
}

ApiError InternalError(std::string message) {
  return Make(500, std::move(message), "internal_error", "", "internal_error");
}

}  // namespace llmproxy::dataplane
