// The gateway's config file (TOML) and its credential store (one 0600 JSON
// file per credential under <state dir>/credentials, a 0700 directory).
#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/json_text.h"
#include "base/toml_text.h"
#include "gateway/gateway.h"
#include "gateway/internal/url.h"

namespace dualkey::gateway {
namespace {

namespace fs = std::filesystem;

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

std::string Where(const std::string& path, const toml::source_region& region) {
  return path + ":" + std::to_string(region.begin.line);
}

std::vector<std::string> Words(std::string_view text, bool colon_separates) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || (colon_separates && c == ':')) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::string Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

std::string_view ToString(CredentialType type) {
  switch (type) {
    case CredentialType::kBearer:
      return "bearer";
    case CredentialType::kBasic:
      return "basic";
    case CredentialType::kAwsSigV4:
      return "aws-sigv4";
  }
  return "bearer";
}

bool ParseCredentialType(std::string_view text, CredentialType* out) {
  if (text == "bearer")
    *out = CredentialType::kBearer;
  else if (text == "basic")
    *out = CredentialType::kBasic;
  else if (text == "aws-sigv4" || text == "sigv4" || text == "aws")
    *out = CredentialType::kAwsSigV4;
  else
    return false;
  return true;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const bool missing = errno == ENOENT;
    std::string message = "cannot read the gateway config " + path + " (" + std::strerror(errno) +
                          "); create it with [[gateway.http.upstream]] entries (see "
                          "docs/gateway.md)";
    return missing ? Status::NotFound(std::move(message)) : Status::IOError(std::move(message));
  }
  std::stringstream text;
  text << in.rdbuf();
  toml::table root;
  std::string ascii, bad;
  if (!base::TomlToAscii(text.str(), &ascii, &bad)) {
    return Status::InvalidArgument(path + ":" + bad.substr(5));
  }
  try {
    root = toml::parse(ascii, path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(Where(path, e.source()) + ": " + std::string(e.description()));
  }
  Config config;
  std::vector<std::string> errors;
  std::set<std::string> names;
  for (const auto& [key, node] : root) {
    if (key.str() != "gateway" || !node.is_table()) {
      errors.push_back(Where(path, key.source()) + ": unknown key \"" + std::string(key.str()) +
                       "\" (expected [[gateway.http.upstream]])");
      continue;
    }
    for (const auto& [gkey, gnode] : *node.as_table()) {
      if (gkey.str() != "http" || !gnode.is_table()) {
        errors.push_back(Where(path, gkey.source()) + ": unknown key \"gateway." +
                         std::string(gkey.str()) + "\"");
        continue;
      }
      for (const auto& [hkey, hnode] : *gnode.as_table()) {
        if (hkey.str() != "upstream" || !hnode.is_array_of_tables()) {
          errors.push_back(Where(path, hkey.source()) +
                           ": expected [[gateway.http.upstream]] tables, found \"" +
                           std::string(hkey.str()) + "\"");
          continue;
        }
        for (const toml::node& element : *hnode.as_array()) {
          const toml::table& table = *element.as_table();
          const std::string where = Where(path, element.source());
          Upstream upstream;
          for (const auto& [field, value] : table) {
            const std::string field_where = Where(path, field.source());
            const auto* text_value = value.as_string();
            if (text_value == nullptr) {
              errors.push_back(field_where + ": \"" + std::string(field.str()) +
                               "\" must be a string");
              continue;
            }
            if (field.str() == "name")
              upstream.name = text_value->get();
            else if (field.str() == "base_url")
              upstream.base_url = text_value->get();
            else if (field.str() == "credential")
              upstream.credential = text_value->get();
            else if (field.str() == "ca_file")
              upstream.ca_file = text_value->get();
            else
              errors.push_back(field_where + ": unknown key \"" + std::string(field.str()) +
                               "\" (name, base_url, credential, ca_file)");
          }
          if (!ValidName(upstream.name)) {
            errors.push_back(where +
                             ": an upstream needs a \"name\" of letters, digits, '-', "
                             "'_' or '.'");
            continue;
          }
          if (!names.insert(upstream.name).second)
            errors.push_back(where + ": a second upstream named \"" + upstream.name + "\"");
          internal::BaseUrl base;
          std::string url_error;
          if (!internal::ParseBaseUrl(upstream.base_url, &base, &url_error))
            errors.push_back(where + ": upstream \"" + upstream.name + "\": " + url_error);
          if (upstream.credential.empty())
            errors.push_back(where + ": upstream \"" + upstream.name +
                             "\" needs a \"credential\" (dualkey gateway credential set NAME)");
          config.upstreams.push_back(std::move(upstream));
        }
      }
    }
  }
  if (config.upstreams.empty() && errors.empty())
    errors.push_back(path + ": no [[gateway.http.upstream]] configured");
  if (!errors.empty()) {
    std::string message = errors[0];
    for (std::size_t i = 1; i < errors.size(); ++i) message += "\n" + errors[i];
    return Status::InvalidArgument(std::move(message));
  }
  return config;
}

CredentialStore::CredentialStore(std::string state_dir) : state_dir_(std::move(state_dir)) {}

std::string CredentialStore::directory() const {
  return state_dir_ + "/credentials";
}

Status CredentialStore::Set(const std::string& name, CredentialType type,
                            std::string_view secret_text, const std::string& region,
                            const std::string& service) {
  if (!ValidName(name))
    return Status::InvalidArgument("a credential name is letters, digits, '-', '_' or '.'");
  // What goes into an Authorization header: printable text. A secret with
  // control bytes could add headers of its own; one that is not UTF-8 could
  // not be stored without changing it.
  for (std::string_view text : {secret_text, std::string_view(region), std::string_view(service)}) {
    std::string_view trimmed = text;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r'))
      trimmed.remove_suffix(1);
    const bool control = std::any_of(trimmed.begin(), trimmed.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return (u < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') || u == 0x7f;
    });
    if (control || !base::IsValidUtf8(trimmed)) {
      return Status::InvalidArgument(
          "the secret, region and service must be printable UTF-8 text (control bytes or "
          "bytes that are not UTF-8 found); nothing was stored");
    }
  }
  nlohmann::json stored{{"name", name}, {"type", ToString(type)}};
  if (type == CredentialType::kAwsSigV4) {
    std::vector<std::string> words = Words(secret_text, /*colon_separates=*/true);
    if (words.size() < 2 || words.size() > 3) {
      return Status::InvalidArgument(
          "an aws-sigv4 credential is \"ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN]\" on "
          "stdin");
    }
    if (region.empty() || service.empty()) {
      return Status::InvalidArgument(
          "an aws-sigv4 credential needs --region and --service (e.g. us-east-1, s3)");
    }
    stored["access_key_id"] = words[0];
    stored["secret_access_key"] = words[1];
    if (words.size() == 3) stored["session_token"] = words[2];
    stored["region"] = region;
    stored["service"] = service;
  } else {
    std::string secret = Trim(secret_text);
    if (secret.empty() || secret.find_first_of("\r\n") != std::string::npos) {
      return Status::InvalidArgument(
          "the secret (one line on stdin) is empty or spans several lines");
    }
    if (type == CredentialType::kBasic && secret.find(':') == std::string::npos) {
      return Status::InvalidArgument("a basic credential is \"user:password\" on stdin");
    }
    stored["secret"] = secret;
  }
  std::error_code ec;
  fs::create_directories(directory(), ec);
  if (ec || chmod(directory().c_str(), 0700) != 0) {
    return Status::IOError("cannot create " + directory() + ": " +
                           (ec ? ec.message() : std::strerror(errno)));
  }
  const std::string path = directory() + "/" + name + ".json";
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Status::IOError("cannot write " + tmp + ": " + std::strerror(errno));
  }
  const std::string body = base::JsonDump(stored) + "\n";
  bool ok = fchmod(fd, 0600) == 0 &&
            write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ok = fsync(fd) == 0 && ok;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    Status failed = Status::IOError("cannot write " + path + ": " + std::strerror(errno));
    unlink(tmp.c_str());
    return failed;
  }
  return Status::Ok();
}

Result<Credential> CredentialStore::Get(const std::string& name) const {
  if (!ValidName(name)) return Status::InvalidArgument("bad credential name \"" + name + "\"");
  const std::string path = directory() + "/" + name + ".json";
  std::ifstream in(path);
  if (!in) {
    return Status::NotFound("no credential \"" + name + "\" (dualkey gateway credential set " +
                            name + ")");
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return Status::PermissionDenied(path + " is readable by other users; run chmod 600 " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json parsed = nlohmann::json::parse(text.str(), nullptr, false);
  Credential credential;
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("type") ||
      !parsed["type"].is_string() ||
      !ParseCredentialType(parsed["type"].get<std::string>(), &credential.type)) {
    return Status::Corruption(path + " is not a credential dualkey wrote");
  }
  credential.name = name;
  credential.secret = parsed.value("secret", "");
  credential.access_key_id = parsed.value("access_key_id", "");
  credential.secret_access_key = parsed.value("secret_access_key", "");
  credential.session_token = parsed.value("session_token", "");
  credential.region = parsed.value("region", "");
  credential.service = parsed.value("service", "");
  return credential;
}

Result<std::vector<Credential>> CredentialStore::List() const {
  std::vector<Credential> out;
  std::error_code ec;
  if (!fs::exists(directory(), ec)) return out;
  for (const auto& entry : fs::directory_iterator(directory(), ec)) {
    const std::string file = entry.path().filename().string();
    if (!file.ends_with(".json")) continue;
    Result<Credential> credential = Get(file.substr(0, file.size() - 5));
    if (!credential.ok()) return credential.status();
    out.push_back(std::move(*credential));
  }
  if (ec) {
    return Status::IOError("cannot list " + directory() + ": " + ec.message());
  }
  std::sort(out.begin(), out.end(),
            [](const Credential& a, const Credential& b) { return a.name < b.name; });
  return out;
}

Status CredentialStore::Remove(const std::string& name) {
  const std::string path = directory() + "/" + name + ".json";
  if (!ValidName(name) || unlink(path.c_str()) != 0)
    return Status::NotFound("no credential \"" + name + "\"");
  return Status::Ok();
}

}  // namespace dualkey::gateway
