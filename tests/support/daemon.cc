#include "daemon.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "approval/approval.h"
#include "audit/audit.h"
#include "base/text.h"
#include "client/client.h"

namespace dualkey::test_support {

std::string Quote(const std::string& text) {
  return base::ShellSingleQuote(text);
}

Output Shell(const std::string& command) {
  Output output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  output.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

std::string TotpCode(const std::string& secret, int step_offset) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  return approval::TotpCode(secret, now + step_offset * 30);
}

bool DaemonProcess::Start(const std::string& state, const std::string& socket,
                          const std::vector<std::string>& extra, int wait_ms) {
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<std::string> args = {DUALKEY_BINARY, "serve", "--state", state,
                                     "--socket",     socket,  "--quiet"};
    for (const std::string& e : extra) args.push_back(e);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int waited = 0; waited < wait_ms; waited += 20) {
    if (client::CallAt(socket, nlohmann::json{{"op", "status"}}, 200).ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void DaemonProcess::Stop(int signal_number) {
  if (pid_ <= 0) return;
  kill(pid_, signal_number);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string CliCommand(const std::string& home, const std::string& socket, const std::string& state,
                       const std::string& args) {
  return "HOME=" + Quote(home) + " DUALKEY_SOCKET=" + Quote(socket) +
         " DUALKEY_STATE_DIR=" + Quote(state) + " " + DUALKEY_BINARY + " " + args;
}

std::vector<nlohmann::json> AuditEntries(const std::string& path) {
  std::vector<nlohmann::json> out;
  Result<std::vector<audit::Entry>> read = audit::Read(path, 0);
  if (!read.ok()) return out;
  for (const audit::Entry& e : *read) {
    nlohmann::json entry{{"seq", e.seq},
                         {"time_ms", e.time_ms},
                         {"kind", e.kind},
                         {"fields", nlohmann::json::parse(e.fields, nullptr, false)}};
    if (e.item > 0) entry["item"] = e.item;
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<nlohmann::json> AuditRecords(const std::string& path, const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (nlohmann::json& entry : AuditEntries(path))
    if (entry["kind"] == kind) out.push_back(std::move(entry["fields"]));
  return out;
}

}  // namespace dualkey::test_support
