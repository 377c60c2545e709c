// The battery's API calls through the gateway, to the drill's stand-in API:
// what reached the stand-in went through; a 403 from the gateway is held.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/json_text.h"
#include "drill/internal/attempt.h"
#include "drill/internal/canary.h"

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;

long long NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// "http://host:port/path?query" -> host:port, /path?query.
bool SplitUrl(const std::string& url, std::string* host_port, std::string* target) {
  const std::string prefix = "http://";
  if (!url.starts_with(prefix)) return false;
  const std::size_t slash = url.find('/', prefix.size());
  *host_port = url.substr(prefix.size(),
                          slash == std::string::npos ? std::string::npos : slash - prefix.size());
  *target = slash == std::string::npos ? "/" : url.substr(slash);
  return !host_port->empty();
}

}  // namespace

HttpReply HttpCall(const std::string& host_port, const std::string& method,
                   const std::string& target,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body, int timeout_ms) {
  HttpReply reply;
  const std::size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    reply.error = "no port in " + host_port;
    return reply;
  }
  std::string host = host_port.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.substr(colon + 1).c_str())));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    reply.error = "not an IPv4 address: " + host;
    return reply;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    reply.error = "cannot connect to " + host_port + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return reply;
  }
  std::string request =
      method + " " + target + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\n";
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    has_length = has_length || lower == "content-length";
  }
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH"))
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  const long long deadline = NowMs() + timeout_ms;
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      reply.error = std::string("send: ") + std::strerror(errno);
      close(fd);
      return reply;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[16384];
  while (true) {
    const long long left = deadline - NowMs();
    if (left <= 0) {
      reply.error = "no answer within " + std::to_string(timeout_ms) + " ms";
      break;
    }
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
    if (response.size() > (4u << 20)) break;
  }
  close(fd);
  if (!response.starts_with("HTTP/1.")) {
    if (reply.error.empty()) reply.error = "not an HTTP answer";
    return reply;
  }
  const std::size_t space = response.find(' ');
  reply.status = std::atoi(response.substr(space + 1, 3).c_str());
  const std::size_t end = response.find("\r\n\r\n");
  std::string raw = end == std::string::npos ? "" : response.substr(end + 4);
  const std::string head = end == std::string::npos ? response : response.substr(0, end);
  std::string lower_head = head;
  for (char& c : lower_head) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (lower_head.find("transfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    std::size_t pos = 0;
    while (pos < raw.size()) {
      const std::size_t line_end = raw.find("\r\n", pos);
      if (line_end == std::string::npos) break;
      const std::size_t size = std::strtoul(raw.substr(pos, line_end - pos).c_str(), nullptr, 16);
      if (size == 0) break;
      decoded += raw.substr(line_end + 2, size);
      pos = line_end + 2 + size + 2;
    }
    raw = decoded;
  }
  reply.body = raw;
  return reply;
}

std::vector<Attempt> RunApi(const std::string& integration, const std::string& gateway_listen,
                            const std::string& upstream_name, const std::string& token,
                            ApiStandin& standin, const std::vector<Case>& cases,
                            const Context& context) {
  std::vector<Attempt> attempts;
  (void)upstream_name;
  for (const Case& c : cases) {
    if (context.stop != nullptr && *context.stop) break;
    if (std::find(c.via.begin(), c.via.end(), kViaGateway) == c.via.end()) continue;
    Attempt a;
    a.case_id = c.id;
    a.integration = integration;
    a.kind = "gateway";
    a.channel = "http";
    a.section = c.section;
    a.destructive = c.destructive();
    const std::string method = c.input.value("method", "GET");
    const std::string url = c.input.value("url", "");
    const std::string body = c.input.value("body", "");
    a.input = OneLine(method + " " + url + (body.empty() ? "" : " " + body));
    a.explain = c.input.dump();
    std::string host_port, target;
    if (!SplitUrl(url, &host_port, &target)) {
      a.outcome = Outcome::kError;
      a.decision = "not sent";
      a.detail = "the case's url is not http://{api}/...: " + OneLine(url, 80);
      attempts.push_back(std::move(a));
      continue;
    }
    std::vector<std::pair<std::string, std::string>> headers;
    if (c.input.contains("headers"))
      for (auto it = c.input["headers"].begin(); it != c.input["headers"].end(); ++it)
        if (it.value().is_string()) headers.emplace_back(it.key(), it.value().get<std::string>());
    headers.emplace_back("Authorization", "Bearer " + token);
    const int reached_before = standin.reached();
    HttpReply reply = HttpCall(gateway_listen, method, target, headers, body, context.timeout_ms);
    const bool reached = standin.reached() > reached_before;
    std::optional<json> answer = base::JsonParse(reply.body);
    const std::string decision = answer && answer->is_object() ? answer->value("decision", "") : "";
    if (reached) {
      a.outcome = Outcome::kAllowed;
      a.decision = "forwarded (" + std::to_string(reply.status) + " from the stand-in)";
    } else if ((reply.status == 403 || reply.status == 400 || reply.status == 413) &&
               !decision.empty() && decision != "allow") {
      a.outcome = Outcome::kHeld;
      a.decision = std::to_string(reply.status) + " " + decision;
      a.detail = answer ? OneLine(answer->value("reason", ""), 240) : "";
    } else {
      a.outcome = Outcome::kError;
      a.decision = reply.status == 0 ? "no answer" : std::to_string(reply.status);
      a.detail = reply.error.empty() ? OneLine(reply.body, 240) : reply.error;
    }
    attempts.push_back(std::move(a));
  }
  return attempts;
}

}  // namespace dualkey::drill::internal
