#include "dataplane/request_router.h"

namespace llmproxy::dataplane {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
        HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Route MatchRoute(std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const bool is_get = method == "GET" || method == "HEAD";
  const bool is_post = method == "POST";
  Route route;
  auto proxy = [&](Operation op) {
    if (is_post) {
      route.kind = RouteKind::kProxy;
      route.operation = op;
    } else {
      route.kind = RouteKind::kMethodNotAllowed;
      route.allow = "POST";
    }
    return route;
  };
  if (path == "/v1/chat/completions") return proxy(Operation::kChatCompletions);
  if (path == "/v1/completions") return proxy(Operation::kCompletions);
  if (path == "/v1/embeddings") return proxy(Operation::kEmbeddings);
  if (path == "/v1/models" || path.substr(0, 11) == "/v1/models/") {
    if (!is_get) {
      route.kind = RouteKind::kMethodNotAllowed;
      route.allow = "GET, HEAD";
      return route;
    }
    if (path == "/v1/models") {
      route.kind = RouteKind::kListModels;
    } else {
      route.kind = RouteKind::kGetModel;
      route.model = PercentDecode(path.substr(11));
    }
    return route;
  }
  route.kind = RouteKind::kNotFound;
  return route;
}

}  // namespace llmproxy::dataplane
