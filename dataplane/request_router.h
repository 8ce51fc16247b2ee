#pragma once

#include <string>
#include <string_view>

#include "dataplane/request_body.h"

namespace llmproxy::dataplane {

// The client API endpoints the data plane serves.
enum class RouteKind {
  kProxy,             // POST chat/completions, completions, embeddings
  kListModels,        // GET /v1/models
  kGetModel,          // GET /v1/models/{model}
  kNotFound,          // no such path
  kMethodNotAllowed,  // known path, wrong method
};

struct Route {
  RouteKind kind = RouteKind::kNotFound;
  Operation operation = Operation::kChatCompletions;  // for kProxy
  std::string model;                                  // for kGetModel
  // For kMethodNotAllowed: the value of the Allow header.
  std::string_view allow;
};

// Maps a method and request target (path, optionally with a query) to a
// route. HEAD is treated like GET.
Route MatchRoute(std::string_view method, std::string_view target);

}  // namespace llmproxy::dataplane
