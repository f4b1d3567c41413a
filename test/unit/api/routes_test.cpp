// Keeps proto/respaldo.openapi.yaml and the server's routing table in step: every documented
// operation is routed, and every route is documented, with the same path templates and methods.
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "respaldo/api/api.hpp"

namespace {

using route_set = std::map<std::string, std::set<std::string>>;  // path -> methods (upper case)

std::size_t indent_of(const std::string& line) {
  std::size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

// Reads the `paths:` section: path keys at indent 2, operations at indent 4. Only as much YAML
// as the document uses (block style, no anchors in this section).
route_set spec_routes(std::istream& in) {
  static const std::set<std::string> http_methods = {"get",     "put",  "post",  "delete",
                                                     "options", "head", "patch", "trace"};
  route_set out;
  std::string line;
  bool in_paths = false;
  std::string current;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto trimmed_start = line.find_first_not_of(' ');
    if (trimmed_start == std::string::npos || line[trimmed_start] == '#') continue;
    const auto indent = indent_of(line);
    if (indent == 0) {
      in_paths = line == "paths:";
      current.clear();
      continue;
    }
    if (!in_paths) continue;
    if (indent == 2) {
      REQUIRE(line.back() == ':');
      current = line.substr(2, line.size() - 3);
      if (current.size() >= 2 && (current.front() == '\'' || current.front() == '"'))
        current = current.substr(1, current.size() - 2);
      REQUIRE(current.front() == '/');
      REQUIRE(out.count(current) == 0);
      out[current];
    } else if (indent == 4) {
      REQUIRE_FALSE(current.empty());
      const auto colon = line.find(':');
      REQUIRE(colon != std::string::npos);
      std::string key = line.substr(4, colon - 4);
      if (!http_methods.count(key)) continue;  // summary, parameters, ... of the path item
      for (auto& c : key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      INFO(current << " " << key);
      REQUIRE(out[current].insert(key).second);
    }
  }
  return out;
}

route_set code_routes() {
  route_set out;
  for (const auto& r : respaldo::api::describe_routes().routes()) {
    INFO(r.method << " " << r.pattern);
    REQUIRE(out[r.pattern].insert(r.method).second);
  }
  return out;
}

std::string show(const route_set& s) {
  std::ostringstream os;
  for (const auto& [path, methods] : s) {
    os << "  " << path << ":";
    for (const auto& m : methods) os << " " << m;
    os << "\n";
  }
  return os.str();
}

}  // namespace

TEST_CASE("the spec reader understands the document's layout", "[api][openapi]") {
  std::istringstream doc(
      "openapi: 3.1.0\n"
      "paths:\n"
      "  /a:\n"
      "    summary: x\n"
      "    get:\n"
      "      responses:\n"
      "        '200':\n"
      "          description: ok\n"
      "    post:\n"
      "      description: |\n"
      "        text with get: inside\n"
      "  '/b/{id}':\n"
      "    parameters: []\n"
      "    delete:\n"
      "      responses: {}\n"
      "components:\n"
      "  schemas:\n"
      "    get:\n"
      "      type: object\n");
  auto routes = spec_routes(doc);
  CHECK(routes == route_set{{"/a", {"GET", "POST"}}, {"/b/{id}", {"DELETE"}}});
}

TEST_CASE("routes in proto/respaldo.openapi.yaml and api::describe_routes() agree",
          "[api][openapi]") {
  std::ifstream in(std::string(RESPALDO_SOURCE_DIR) + "/proto/respaldo.openapi.yaml");
  REQUIRE(in);
  const auto spec = spec_routes(in);
  const auto code = code_routes();
  INFO("spec:\n" << show(spec) << "code:\n" << show(code));
  REQUIRE_FALSE(spec.empty());

  // Documented but not routed.
  for (const auto& [path, methods] : spec) {
    INFO("documented path " << path);
    auto it = code.find(path);
    REQUIRE(it != code.end());
    for (const auto& m : methods) {
      INFO(m);
      CHECK(it->second.count(m) == 1);
    }
  }
  // Routed but not documented.
  for (const auto& [path, methods] : code) {
    INFO("routed path " << path);
    auto it = spec.find(path);
    REQUIRE(it != spec.end());
    for (const auto& m : methods) {
      INFO(m);
      CHECK(it->second.count(m) == 1);
    }
  }
  CHECK(spec == code);
}

TEST_CASE("the routing table holds the issue's routes", "[api]") {
  const auto code = code_routes();
  const route_set required = {
      {"/healthz", {"GET"}},
      {"/readyz", {"GET"}},
      {"/metrics", {"GET"}},
      {"/api/apps", {"GET", "POST"}},
      {"/api/apps/{id}", {"GET", "PATCH", "DELETE"}},
      {"/api/backups/{id}", {"GET", "DELETE"}},
  };
  for (const auto& [path, methods] : required) {
    INFO(path);
    REQUIRE(code.count(path) == 1);
    for (const auto& m : methods) CHECK(code.at(path).count(m) == 1);
  }
}
