// Deliberately naive, like an API that trusts its token: any authorised
// request whose document asks for a volume, service, environment or project
// delete removes the volume. It is the victim, not a classifier.
#include "demo/internal/platform.h"

#include <atomic>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/loopback_http.h"

namespace dualkey::demo::internal {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using nlohmann::json;

class BeastPlatform final : public Platform {
 public:
  BeastPlatform(std::string volumes_dir, std::string secret)
      : volumes_dir_(std::move(volumes_dir)), secret_(std::move(secret)) {}

  bool Open(std::string* error) {
    if (beast::error_code ec = server_.Start()) {
      *error = "the stand-in platform cannot listen: " + ec.message();
      return false;
    }
    return true;
  }

  int port() const override { return server_.port(); }
  int requests() const override { return requests_; }
  int destructive_served() const override { return destructive_; }

 private:
  http::response<http::string_body> Reply(http::status status, const json& body, unsigned version,
                                          bool keep) {
    http::response<http::string_body> r{status, version};
    r.set(http::field::content_type, "application/json");
    r.keep_alive(keep);
    r.body() = body.dump();
    r.prepare_payload();
    return r;
  }

  bool DeleteVolume(const std::string& id) {
    if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") return false;
    std::error_code ec;
    const bool existed = fs::exists(fs::path(volumes_dir_) / id, ec);
    fs::remove_all(fs::path(volumes_dir_) / id, ec);
    ++destructive_;
    return existed;
  }

  json Volumes() {
    json list = json::array();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(volumes_dir_, ec))
      list.push_back({{"id", entry.path().filename().string()}, {"deletedAt", nullptr}});
    return list;
  }

  http::response<http::string_body> Handle(const http::request<http::string_body>& request) {
    const unsigned v = request.version();
    const bool keep = request.keep_alive();
    if (request[http::field::authorization] != "Bearer " + secret_)
      return Reply(http::status::unauthorized, json{{"error", "bad token"}}, v, keep);
    std::string target(request.target());
    if (request.method() == http::verb::delete_ && target.starts_with("/v1/volumes/")) {
      DeleteVolume(target.substr(12));
      return Reply(http::status::ok, json{{"deleted", true}}, v, keep);
    }
    if (request.method() == http::verb::get && target == "/v1/volumes")
      return Reply(http::status::ok, json{{"volumes", Volumes()}}, v, keep);
    if (request.method() == http::verb::post && target.starts_with("/graphql")) {
      json body = json::parse(request.body(), nullptr, false);
      if (body.is_discarded() || !body.contains("query") || !body["query"].is_string())
        return Reply(http::status::bad_request, json{{"errors", {{{"message", "no query"}}}}}, v,
                     keep);
      const std::string query = body["query"];
      for (const char* field : {"volumeDelete", "serviceDelete", "environmentDelete",
                                "projectDelete", "volumeBackupDelete"}) {
        if (query.find(field) != std::string::npos) {
          // The real platform took the volume and its backups with it.
          DeleteVolume("vol-prod");
          return Reply(http::status::ok, json{{"data", {{field, true}}}}, v, keep);
        }
      }
      return Reply(http::status::ok, json{{"data", {{"volumes", Volumes()}}}}, v, keep);
    }
    return Reply(http::status::not_found, json{{"error", "no such endpoint"}}, v, keep);
  }

  std::string volumes_dir_, secret_;
  std::atomic<int> requests_{0}, destructive_{0};
  base::LoopbackHttpServer server_{[this](const auto& request) {
                                     ++requests_;
                                     return Handle(request);
                                   },
                                   10};
};

}  // namespace

std::unique_ptr<Platform> Platform::Start(const std::string& volumes_dir, const std::string& secret,
                                          std::string* error) {
  auto platform = std::make_unique<BeastPlatform>(volumes_dir, secret);
  if (!platform->Open(error)) return nullptr;
  return platform;
}

}  // namespace dualkey::demo::internal
