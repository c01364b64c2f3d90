// YAML → JSON with yaml-cpp; scalars keep their YAML type (int, float, bool, null, string).
#include "http/openapi.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <stdexcept>

// Generated from schemas/openapi.yaml and schemas/openapi/*.yaml.
extern const char* const kPepeunitOpenApiYaml;
extern const char* const kPepeunitOpenApiFragments[];
extern const std::size_t kPepeunitOpenApiFragmentCount;

namespace pepeunit::http {
namespace {

nlohmann::json scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!")
    return text;  // quoted in the source: always a string
  if (text == "null" || text == "~")
    return nullptr;
  if (text == "true")
    return true;
  if (text == "false")
    return false;
  try {
    size_t used = 0;
    const long long i = std::stoll(text, &used);
    if (used == text.size())
      return i;
    const double d = std::stod(text, &used);
    if (used == text.size())
      return d;
  } catch (const std::exception&) {
  }
  return text;
}

nlohmann::json convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node)
        obj[kv.first.as<std::string>()] = convert(kv.second);
      return obj;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : node)
        arr.push_back(convert(item));
      return arr;
    }
    case YAML::NodeType::Scalar:
      return scalar(node);
    default:
      return nullptr;
  }
}

}  // namespace

nlohmann::json openApiFromYaml(const std::string& yaml) {
  try {
    return convert(YAML::Load(yaml));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(std::string("openapi.yaml: ") + e.what());
  }
}

nlohmann::json mergeOpenApiFragment(nlohmann::json document, const nlohmann::json& fragment) {
  const auto paths = fragment.value("paths", nlohmann::json::object());
  for (const auto& [path, item] : paths.items()) {
    if (document["paths"].contains(path)) {
      throw std::runtime_error("openapi: path " + path + " is defined twice");
    }
    document["paths"][path] = item;
  }
  const auto schemas = fragment.contains("components")
                           ? fragment["components"].value("schemas", nlohmann::json::object())
                           : nlohmann::json::object();
  for (const auto& [name, schema] : schemas.items()) {
    if (document["components"]["schemas"].contains(name)) {
      throw std::runtime_error("openapi: schema " + name + " is defined twice");
    }
    document["components"]["schemas"][name] = schema;
  }
  return document;
}

const nlohmann::json& openApiDocument() {
  static const nlohmann::json document = [] {
    nlohmann::json doc = openApiFromYaml(kPepeunitOpenApiYaml);
    for (std::size_t i = 0; i < kPepeunitOpenApiFragmentCount; ++i) {
      doc = mergeOpenApiFragment(std::move(doc), openApiFromYaml(kPepeunitOpenApiFragments[i]));
    }
    return doc;
  }();
  return document;
}

std::vector<std::string> openApiMismatches(const std::vector<Api::Route>& routes,
                                           const nlohmann::json& document) {
  std::set<std::string> registered;
  for (const auto& r : routes)
    registered.insert(r.method + " " + r.path);
  std::set<std::string> documented;
  static const std::set<std::string> kMethods = {"get", "post", "patch", "put", "delete"};
  if (document.contains("paths")) {
    for (const auto& [path, item] : document["paths"].items()) {
      for (const auto& [method, op] : item.items()) {
        if (!kMethods.count(method))
          continue;
        std::string upper = method;
        std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
        documented.insert(upper + " " + path);
      }
    }
  }
  std::vector<std::string> out;
  for (const auto& r : registered) {
    if (!documented.count(r))
      out.push_back("undocumented: " + r);
  }
  for (const auto& d : documented) {
    if (!registered.count(d))
      out.push_back("not registered: " + d);
  }
  return out;
}

void registerOpenApiRoute(Api& api) {
  api.get("/openapi.json", [](RequestContext& ctx) { ctx.sendJson(openApiDocument()); });
}

}  // namespace pepeunit::http
