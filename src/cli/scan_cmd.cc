// `dualkey scan [PATH...]`: loose credentials an agent could read (scan.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "install/layout.h"
#include "scan/scan.h"

namespace dualkey::cli {

int RunScan(const ScanOptions& options) {
  scan::Options scan_options;
  scan_options.roots = options.paths;
  scan_options.max_depth = options.max_depth;
  if (scan_options.roots.empty()) {
    if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/')
      scan_options.roots.emplace_back(home);
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) scan_options.roots.emplace_back(cwd);
  }
  // dualkey's own state holds the credentials that were moved there.
  scan_options.skip_dirs.push_back(install::DefaultStateDir());
  if (isatty(STDERR_FILENO) && !options.json)
    scan_options.progress = [](std::size_t files) {
      std::cerr << "\rscanned " << files << " files..." << std::flush;
    };
  scan::Report report = scan::Scan(scan_options);
  if (scan_options.progress && report.files_scanned >= 5000) std::cerr << "\r\033[K";
  for (const std::string& error : report.errors) std::cerr << "dualkey scan: " << error << "\n";
  if (options.json) {
    nlohmann::json findings = nlohmann::json::array();
    for (const scan::Finding& f : report.findings)
      findings.push_back({{"path", f.path},
                          {"line", f.line},
                          {"kind", f.kind},
                          {"what", f.what},
                          {"preview", f.preview},
                          {"readable_by", f.readable_by},
                          {"move", f.move}});
    std::cout << nlohmann::json{{"roots", scan_options.roots},
                                {"files_scanned", report.files_scanned},
                                {"truncated", report.truncated},
                                {"findings", std::move(findings)}}
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else if (report.findings.empty()) {
    std::cout << "No loose credentials found in " << report.files_scanned << " files.\n";
  } else {
    // Grouped by what to do: the advice once per kind, the places under it.
    std::map<std::string, std::vector<const scan::Finding*>> by_move;
    for (const scan::Finding& f : report.findings) by_move[f.move].push_back(&f);
    std::cout << report.findings.size() << " credential" << (report.findings.size() == 1 ? "" : "s")
              << " an agent could read (" << report.files_scanned << " files scanned):\n";
    for (const auto& [move, findings] : by_move) {
      std::cout << "\n";
      for (const scan::Finding* f : findings)
        std::cout << "  " << f->path << ":" << f->line << "  " << f->what << "  " << f->preview
                  << "\n      readable by " << f->readable_by << "\n";
      std::cout << "  to move it:\n";
      std::size_t start = 0;
      while (start <= move.size()) {
        const std::size_t end = std::min(move.find('\n', start), move.size());
        std::cout << "    " << move.substr(start, end - start) << "\n";
        start = end + 1;
      }
    }
  }
  if (report.truncated)
    std::cerr << "dualkey scan: stopped after " << report.files_scanned
              << " files; scan narrower paths to see the rest\n";
  return report.findings.empty() ? 0 : 1;
}

// `dualkey scan`: the subcommand and its options.
std::unique_ptr<Command> NewScanCommand() {
  class Scan final : public Command {
   public:
    void Add(CLI::App& app) override {
      scan_cmd = app.add_subcommand(
          "scan",
          "Find cloud and database credentials lying in files an agent can read, and say how\n"
          "to move each into dualkey: AWS keys, .env tokens, CLI configs, connection strings\n"
          "with passwords. Secrets are shown redacted. Exit status: 0 none found, 1 found.\n"
          "  dualkey scan                 $HOME and the current directory\n"
          "  dualkey scan ~/src --json");
      scan_cmd->add_option("paths", scan.paths, "files or directories (default: $HOME and here)");
      scan_cmd->add_flag("--json", scan.json, "print JSON");
      scan_cmd->add_option("--max-depth", scan.max_depth, "directory depth to descend (8)");
    }
    bool Parsed() const override { return scan_cmd->parsed(); }
    int Run() override { return RunScan(scan); }

   private:
    ScanOptions scan;
    CLI::App* scan_cmd = nullptr;
  };
  return std::make_unique<Scan>();
}

}  // namespace dualkey::cli
