#include "hook/install_mcp.h"

#include <toml++/toml.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file_text.h"
#include "base/toml_text.h"
#include "hook/internal/config.h"

namespace dualkey::hook {
namespace {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

struct ServerReport {
  std::string scope;  // "user", "project /path", ...
  std::string name;
  std::string status;  // wrapped | already wrapped | restored | not wrapped | skipped: ...
  // The entry as the file has it (before any rewrite), when it has a command.
  std::string command;
  std::vector<std::string> args;
};

struct FileReport {
  std::string path;
  bool exists = false;
  bool changed = false;
  std::string backup;
  std::string note;
  std::vector<ServerReport> servers;
};

std::string Basename(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// `dualkey mcp ... -- COMMAND ARGS...` as written by us (any dualkey binary).
bool IsWrapped(const std::string& command, const std::vector<std::string>& args,
               std::size_t* separator) {
  if (Basename(command).rfind("dualkey", 0) != 0 || args.empty() || args[0] != "mcp") return false;
  for (std::size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == "--") {
      *separator = i;
      return true;
    }
  }
  return false;
}

std::vector<std::string> Wrap(const std::string& name, const std::string& command,
                              const std::vector<std::string>& args) {
  std::vector<std::string> wrapped = {"mcp", "--server-name", name, "--", command};
  wrapped.insert(wrapped.end(), args.begin(), args.end());
  return wrapped;
}

// What to do with one server entry; false when it is left as it is.
struct Rewrite {
  std::string command;
  std::vector<std::string> args;
};
bool Plan(const std::string& name, const std::string& command, const std::vector<std::string>& args,
          const InstallMcpRequest& request, Rewrite* out, std::string* status) {
  std::size_t separator = 0;
  const bool wrapped = IsWrapped(command, args, &separator);
  if (request.uninstall) {
    if (!wrapped) {
      *status = "not wrapped";
      return false;
    }
    out->command = args[separator + 1];
    out->args.assign(args.begin() + static_cast<std::ptrdiff_t>(separator) + 2, args.end());
    *status = "restored";
    return true;
  }
  if (wrapped) {
    *status = "already wrapped";
    return false;
  }
  out->command = request.binary;
  out->args = Wrap(name, command, args);
  *status = "wrapped";
  return true;
}

const char* kHttpNote =
    "skipped: an HTTP server (run `dualkey mcp --upstream URL` and point the client at the "
    "local URL it prints)";

// A JSON `mcpServers` object (Claude, Cursor, Gemini).
void RewriteJsonServers(ojson& servers, const std::string& scope, const InstallMcpRequest& request,
                        FileReport* report) {
  if (!servers.is_object()) return;
  for (auto it = servers.begin(); it != servers.end(); ++it) {
    ServerReport server{scope, it.key(), "", "", {}};
    ojson& entry = it.value();
    if (!entry.is_object()) {
      server.status = "skipped: not an object";
    } else if (entry.contains("url") || entry.contains("httpUrl") ||
               (entry.contains("type") && entry["type"].is_string() && entry["type"] != "stdio")) {
      server.status = kHttpNote;
    } else if (!entry.contains("command") || !entry["command"].is_string()) {
      server.status = "skipped: no command";
    } else {
      std::vector<std::string> args;
      bool plain = true;
      if (entry.contains("args")) {
        if (!entry["args"].is_array()) plain = false;
        for (const ojson& arg : entry["args"]) {
          if (!arg.is_string())
            plain = false;
          else
            args.push_back(arg.get<std::string>());
        }
      }
      Rewrite rewrite;
      server.command = entry["command"].get<std::string>();
      server.args = args;
      if (!plain) {
        server.status = "skipped: args is not a list of strings";
      } else if (Plan(it.key(), entry["command"].get<std::string>(), args, request, &rewrite,
                      &server.status)) {
        entry["command"] = rewrite.command;
        entry["args"] = rewrite.args;
        report->changed = true;
      }
    }
    report->servers.push_back(std::move(server));
  }
}

// Builds the new text of one config file. False with `error` when it cannot
// be read or parsed (it is then never written).
bool RewriteFile(const std::string& path, const InstallMcpRequest& request, FileReport* report,
                 std::string* new_text, std::string* error) {
  std::string text;
  if (!base::ReadFile(path, &text)) {
    *error = "cannot read " + path;
    return false;
  }
  if (request.client == Agent::kCodex) {
    toml::table root;
    try {
      root = base::ParseToml(text, path);
    } catch (const toml::parse_error& e) {
      std::ostringstream message;
      message << path << " is not valid TOML (" << e.description() << " at line "
              << e.source().begin.line << "); nothing was changed";
      *error = message.str();
      return false;
    }
    toml::table* servers = root["mcp_servers"].as_table();
    if (servers != nullptr) {
      for (auto& [key, node] : *servers) {
        ServerReport server{"user", std::string(key.str()), "", "", {}};
        toml::table* entry = node.as_table();
        if (entry == nullptr) {
          server.status = "skipped: not a table";
        } else if (entry->contains("url")) {
          server.status = kHttpNote;
        } else if (!(*entry)["command"].is<std::string>()) {
          server.status = "skipped: no command";
        } else {
          std::vector<std::string> args;
          bool plain = true;
          if (entry->contains("args")) {
            toml::array* list = (*entry)["args"].as_array();
            if (list == nullptr)
              plain = false;
            else
              for (toml::node& arg : *list) {
                if (auto value = arg.value<std::string>())
                  args.push_back(*value);
                else
                  plain = false;
              }
          }
          Rewrite rewrite;
          server.command = *(*entry)["command"].value<std::string>();
          server.args = args;
          if (!plain) {
            server.status = "skipped: args is not a list of strings";
          } else if (Plan(server.name, *(*entry)["command"].value<std::string>(), args, request,
                          &rewrite, &server.status)) {
            entry->insert_or_assign("command", rewrite.command);
            toml::array list;
            for (const std::string& arg : rewrite.args) list.push_back(arg);
            entry->insert_or_assign("args", std::move(list));
            report->changed = true;
          }
        }
        report->servers.push_back(std::move(server));
      }
    }
    if (report->changed) {
      std::ostringstream out;
      out << toml::toml_formatter(root) << "\n";
      *new_text = out.str();
      if (text.find('#') != std::string::npos)
        report->note = "comments and layout were not kept; the backup has them";
    }
    return true;
  }

  ojson root = ojson::parse(text, nullptr, false, /*ignore_comments=*/false);
  bool had_comments = false;
  if (root.is_discarded()) {
    root = ojson::parse(text, nullptr, false, /*ignore_comments=*/true);
    had_comments = !root.is_discarded();
  }
  if (root.is_discarded() || !root.is_object()) {
    *error = path + " is not a JSON object; fix it or move it away (nothing was changed)";
    return false;
  }
  const bool claude_user = request.client == Agent::kClaude && !request.project;
  if (root.contains("mcpServers"))
    RewriteJsonServers(root["mcpServers"], claude_user ? "user" : "project", request, report);
  // ~/.claude.json keeps each project's local servers under projects.PATH.
  if (claude_user && root.contains("projects") && root["projects"].is_object()) {
    for (auto it = root["projects"].begin(); it != root["projects"].end(); ++it) {
      if (it.value().is_object() && it.value().contains("mcpServers"))
        RewriteJsonServers(it.value()["mcpServers"], "project " + it.key(), request, report);
    }
  }
  if (report->changed) {
    *new_text = root.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
    if (had_comments) report->note = "comments were dropped; the backup keeps them";
  }
  return true;
}

std::string ClientName(Agent client) {
  switch (client) {
    case Agent::kClaude:
      return "Claude Code";
    case Agent::kCursor:
      return "Cursor";
    case Agent::kCodex:
      return "Codex";
    case Agent::kGemini:
      return "Gemini CLI";
  }
  return "";
}

}  // namespace

std::vector<std::string> McpConfigPaths(Agent client, bool project, const std::string& project_dir,
                                        const std::string& home) {
  const std::string base = project ? project_dir : home;
  switch (client) {
    case Agent::kClaude:
      return {project ? project_dir + "/.mcp.json" : home + "/.claude.json"};
    case Agent::kCursor:
      return {base + "/.cursor/mcp.json"};
    case Agent::kGemini:
      return {base + "/.gemini/settings.json"};
    case Agent::kCodex:
      return {base + "/.codex/config.toml"};
  }
  return {};
}

std::vector<McpConfigRead> ListMcpServers(Agent client, bool project,
                                          const std::string& project_dir, const std::string& home) {
  std::vector<McpConfigRead> configs;
  InstallMcpRequest request;  // a plan that is never written
  request.client = client;
  request.project = project;
  request.project_dir = project_dir;
  request.home = home;
  request.dry_run = true;
  for (const std::string& path : McpConfigPaths(client, project, project_dir, home)) {
    McpConfigRead read;
    read.path = path;
    std::error_code ec;
    read.exists = fs::exists(path, ec);
    if (read.exists) {
      FileReport report;
      std::string text, error;
      if (!RewriteFile(path, request, &report, &text, &error)) {
        read.error = error;
      } else {
        for (const ServerReport& server : report.servers) {
          McpServer entry;
          entry.config = path;
          entry.scope = server.scope;
          entry.name = server.name;
          entry.command = server.command;
          entry.args = server.args;
          entry.wrapped = server.status == "already wrapped";
          entry.status = server.status == "wrapped" ? "not wrapped" : server.status;
          read.servers.push_back(std::move(entry));
        }
      }
    }
    configs.push_back(std::move(read));
  }
  return configs;
}

CommandOutput InstallMcp(const InstallMcpRequest& request) {
  CommandOutput result;
  std::vector<FileReport> files;
  std::string errors;
  const std::string stamp = request.timestamp.empty() ? base::LocalStamp() : request.timestamp;
  for (const std::string& path :
       McpConfigPaths(request.client, request.project, request.project_dir, request.home)) {
    FileReport report;
    report.path = path;
    std::error_code ec;
    report.exists = fs::exists(path, ec);
    if (!report.exists) {
      files.push_back(std::move(report));
      continue;
    }
    std::string text, error;
    if (!RewriteFile(path, request, &report, &text, &error)) {
      errors += "dualkey: " + error + "\n";
      result.exit_code = 2;
      files.push_back(std::move(report));
      continue;
    }
    if (report.changed && !request.dry_run) {
      report.backup = config::BackupPath(path, stamp);
      fs::copy_file(path, report.backup, fs::copy_options::none, ec);
      if (ec) {
        errors += "dualkey: cannot back up " + path + " to " + report.backup + ": " + ec.message() +
                  " (nothing was changed)\n";
        report.backup.clear();
        report.changed = false;
        result.exit_code = 2;
      } else if (!config::WriteAtomically(path, text, &error)) {
        errors += "dualkey: " + error + "\n";
        report.changed = false;
        result.exit_code = 2;
      }
    }
    files.push_back(std::move(report));
  }

  if (request.json) {
    ojson out{{"client", ToString(request.client)},
              {"uninstall", request.uninstall},
              {"dry_run", request.dry_run},
              {"files", ojson::array()}};
    for (const FileReport& file : files) {
      ojson entry{{"path", file.path},
                  {"exists", file.exists},
                  {"changed", file.changed},
                  {"servers", ojson::array()}};
      if (!file.backup.empty()) entry["backup"] = file.backup;
      if (!file.note.empty()) entry["note"] = file.note;
      for (const ServerReport& server : file.servers)
        entry["servers"].push_back(
            {{"name", server.name}, {"scope", server.scope}, {"status", server.status}});
      out["files"].push_back(std::move(entry));
    }
    if (!errors.empty()) out["errors"] = errors;
    result.out = out.dump(2) + "\n";
    result.err = errors;
    return result;
  }

  std::string out;
  for (const FileReport& file : files) {
    if (!file.exists) {
      out += "dualkey: no " + file.path + "; no " + ClientName(request.client) +
             " MCP servers there.\n";
      continue;
    }
    if (file.servers.empty()) {
      out += "dualkey: " + file.path + " configures no MCP servers.\n";
      continue;
    }
    out += std::string("dualkey: ") + (request.dry_run ? "would change " : "") + file.path +
           (file.changed || request.dry_run ? "" : " (unchanged)") + "\n";
    for (const ServerReport& server : file.servers)
      out += "  " + server.name + " (" + server.scope + "): " +
             (request.dry_run && (server.status == "wrapped" || server.status == "restored")
                  ? "would be " + server.status
                  : server.status) +
             "\n";
    if (!file.backup.empty()) out += "  backup of the previous file: " + file.backup + "\n";
    if (!file.note.empty()) out += "  note: " + file.note + "\n";
  }
  bool any_changed = false;
  for (const FileReport& file : files) any_changed = any_changed || file.changed;
  const std::string again = "dualkey install mcp --client " +
                            std::string(ToString(request.client)) +
                            (request.project ? " --project" : "");
  if (any_changed && !request.dry_run && request.uninstall)
    out += "Restart " + ClientName(request.client) +
           " so it starts its MCP servers directly again: dualkey no longer guards their tool "
           "calls. Wrap them again: " +
           again + "\n";
  else if (any_changed && !request.dry_run)
    out += "Restart " + ClientName(request.client) +
           " so it starts its MCP servers through dualkey. Undo: " + again + " --uninstall\n";
  result.out = std::move(out);
  result.err = errors;
  return result;
}

}  // namespace dualkey::hook
