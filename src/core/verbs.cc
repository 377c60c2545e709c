#include "core/verbs.h"

#include <algorithm>
#include <vector>

namespace dualkey::verbs {
namespace {

using std::string_view;

// Looked up linearly: a few dozen short words, compared by length first.
constexpr string_view kDestroy[] = {
    "decommission", "del",       "delete",     "deleteall", "deletemany", "deprovision",
    "deregister",   "destroy",   "drop",       "dropall",   "erase",      "expire",
    "flush",        "flushall",  "flushdb",    "nuke",      "obliterate", "prune",
    "purge",        "rb",        "remove",     "removeall", "reset",      "rm",
    "rmdir",        "rmr",       "shred",      "teardown",  "terminate",  "truncate",
    "unprovision",  "unpublish", "unregister", "wipe",      "yank",       "zap",
    "clear",
};

constexpr string_view kRead[] = {
    "aggregate", "analyze", "audit",     "browse",   "cat",     "check",    "count",    "describe",
    "diff",      "display", "doctor",    "download", "dump",    "estimate", "explain",  "explore",
    "export",    "fetch",   "filter",    "find",     "get",     "glob",     "grep",     "head",
    "health",    "help",    "history",   "info",     "inspect", "lint",     "list",     "log",
    "logs",      "ls",      "lookup",    "plan",     "ping",    "preview",  "print",    "ps",
    "query",     "read",    "scan",      "search",   "select",  "show",     "simulate", "stat",
    "stats",     "status",  "summarize", "tail",     "test",    "top",      "tree",     "validate",
    "verify",    "version", "view",      "watch",    "whoami",
};

constexpr string_view kWrite[] = {
    "add",      "append",    "apply",       "approve",   "archive",      "assign",     "associate",
    "attach",   "authorize", "build",       "call",      "cancel",       "clone",      "close",
    "comment",  "commit",    "config",      "configure", "connect",      "copy",       "cp",
    "create",   "deploy",    "detach",      "disable",   "disassociate", "disconnect", "edit",
    "enable",   "enqueue",   "exec",        "execute",   "fork",         "generate",   "grant",
    "import",   "init",      "insert",      "install",   "invoke",       "kill",       "label",
    "link",     "lock",      "login",       "logout",    "make",         "merge",      "mkdir",
    "modify",   "mount",     "move",        "mv",        "new",          "notify",     "open",
    "patch",    "pause",     "produce",     "promote",   "publish",      "push",       "put",
    "reboot",   "register",  "release",     "reload",    "rename",       "renew",      "reply",
    "replace",  "rerun",     "resize",      "restart",   "restore",      "resume",     "retry",
    "review",   "revoke",    "rollback",    "rotate",    "run",          "save",       "scale",
    "schedule", "send",      "set",         "start",     "stop",         "store",      "subscribe",
    "suspend",  "sync",      "tag",         "transfer",  "trigger",      "uninstall",  "unlink",
    "unlock",   "unmount",   "unsubscribe", "untag",     "update",       "upgrade",    "upload",
    "upsert",   "write",
};

constexpr string_view kSoft[] = {
    "alias",       "aliases",    "annotation",   "annotations",   "assignee",     "assignees",
    "association", "attachment", "binding",      "bindings",      "bookmark",     "bookmarks",
    "cache",       "caches",     "collaborator", "collaborators", "draft",        "emoji",
    "favorite",    "favorites",  "label",        "labels",        "like",         "likes",
    "listener",    "member",     "members",      "metadata",      "notification", "notifications",
    "password",    "permission", "permissions",  "reaction",      "reactions",    "reviewer",
    "reviewers",   "session",    "sessions",     "star",          "stars",        "subscription",
    "tag",         "tags",       "target",       "targets",       "upvote",       "vote",
    "rule",        "rules",      "iam",          "policy",
};

constexpr string_view kBackup[] = {
    "backup",        "backups",        "bak",      "bkp",      "recovery",
    "recoverypoint", "recoverypoints", "snapshot", "snapshots"};

template <std::size_t N>
bool In(const string_view (&table)[N], string_view word) {
  for (string_view entry : table)
    if (entry == word) return true;
  return false;
}

bool IsUpper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool IsLower(char c) {
  return c >= 'a' && c <= 'z';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsWordChar(char c) {
  return IsUpper(c) || IsLower(c) || IsDigit(c);
}
char ToLower(char c) {
  return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string_view ToString(Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kRead:
      return "read";
    case Kind::kWrite:
      return "write";
    case Kind::kDestroy:
      return "destroy";
  }
  return "none";
}

Words::Words(std::string_view name) {
  std::size_t start = 0;
  auto push = [&](std::size_t end) {
    if (end <= start || count_ >= kMaxWords) return;
    std::size_t length = std::min(end - start, kMaxWordLength);
    char* out = buffer_.data() + count_ * kMaxWordLength;
    for (std::size_t k = 0; k < length; ++k) out[k] = ToLower(name[start + k]);
    length_[count_++] = static_cast<std::uint8_t>(length);
  };
  for (std::size_t i = 0; i < name.size() && count_ < kMaxWords; ++i) {
    const char c = name[i];
    if (!IsWordChar(c)) {
      push(i);
      start = i + 1;
      continue;
    }
    if (i == start) continue;
    const char prev = name[i - 1];
    // deleteDb -> delete|Db ; DBInstance -> DB|Instance
    const bool hump = IsUpper(c) && (IsLower(prev) || IsDigit(prev));
    const bool acronym_end =
        IsUpper(c) && IsUpper(prev) && i + 1 < name.size() && IsLower(name[i + 1]);
    if (hump || acronym_end) {
      push(i);
      start = i;
    }
  }
  if (count_ < kMaxWords) push(name.size());
}

std::string_view Words::operator[](std::size_t i) const {
  if (i >= count_) return {};
  return std::string_view(buffer_.data() + i * kMaxWordLength, length_[i]);
}

namespace {

// All three tables in one sorted index, built once: a word's kind is one
// binary search (destroying wins over the other two for words in several).
struct Entry {
  string_view word;
  Kind kind;
};

const std::vector<Entry>& Index() {
  static const std::vector<Entry> index = [] {
    std::vector<Entry> entries;
    for (string_view word : kWrite) entries.push_back({word, Kind::kWrite});
    for (string_view word : kRead) entries.push_back({word, Kind::kRead});
    for (string_view word : kDestroy) entries.push_back({word, Kind::kDestroy});
    // Stable: for a word in several tables the last pushed (destroy) sorts last.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& a, const Entry& b) { return a.word < b.word; });
    std::vector<Entry> unique;
    for (const Entry& entry : entries) {
      if (!unique.empty() && unique.back().word == entry.word)
        unique.back() = entry;
      else
        unique.push_back(entry);
    }
    return unique;
  }();
  return index;
}

}  // namespace

Kind WordKind(std::string_view word) {
  const std::vector<Entry>& index = Index();
  auto it = std::lower_bound(index.begin(), index.end(), word,
                             [](const Entry& entry, string_view key) { return entry.word < key; });
  return it != index.end() && it->word == word ? it->kind : Kind::kNone;
}

bool IsSoftObject(std::string_view word) {
  return In(kSoft, word);
}

bool IsBackupWord(std::string_view word) {
  return In(kBackup, word);
}

namespace {
// The table's own spelling of `word` when it is a verb of `kind` (static
// storage, unlike the Words buffer), else empty.
string_view Canonical(string_view word, Kind kind) {
  const std::vector<Entry>& index = Index();
  auto it = std::lower_bound(index.begin(), index.end(), word,
                             [](const Entry& entry, string_view key) { return entry.word < key; });
  return it != index.end() && it->word == word && it->kind == kind ? it->word : string_view();
}
}  // namespace

Reading ReadName(std::string_view name) {
  Reading out;
  const Words words(name);
  if (words.empty()) return out;
  for (std::size_t i = 0; i < words.size(); ++i) out.backup = out.backup || IsBackupWord(words[i]);
  if (string_view read = Canonical(words[0], Kind::kRead); !read.empty()) {
    out.kind = Kind::kRead;
    out.verb = read;
    return out;
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    string_view destroy = Canonical(words[i], Kind::kDestroy);
    if (destroy.empty()) continue;
    out.kind = Kind::kDestroy;
    out.verb = destroy;
    // Soft when the other words name only harmless objects ("remove-tag",
    // "resetPassword", "remove-tags-from-resource"), not when one names
    // something that holds data ("delete-cache-cluster"), nor backups.
    static constexpr string_view kNoise[] = {"from", "to",  "of", "for",      "all",
                                             "by",   "on",  "in", "resource", "resources",
                                             "a",    "the", "my", "user",     "users"};
    bool soft_word = false;
    bool hard_word = false;
    for (std::size_t j = 0; j < words.size(); ++j) {
      if (j == i) continue;
      if (IsSoftObject(words[j]))
        soft_word = true;
      else if (!In(kNoise, words[j]))
        hard_word = true;
    }
    out.soft = soft_word && !hard_word && !out.backup;
    return out;
  }
  for (auto [table_kind, first_only] :
       {std::pair{Kind::kWrite, true}, {Kind::kRead, false}, {Kind::kWrite, false}}) {
    const std::size_t limit = first_only ? 1 : words.size();
    for (std::size_t i = 0; i < limit; ++i) {
      string_view verb = Canonical(words[i], table_kind);
      if (verb.empty()) continue;
      out.kind = table_kind;
      out.verb = verb;
      return out;
    }
  }
  return out;
}

bool IsDestroyingOption(std::string_view option, std::string_view* verb) {
  if (!option.starts_with("--") || option.size() < 4) return false;
  option.remove_prefix(2);
  option = option.substr(0, option.find('='));
  static constexpr string_view kShapes[] = {"delete", "purge", "remove", "destroy", "wipe",
                                            "drop",   "erase", "nuke",   "shred"};
  const Words words(option);
  if (words.empty()) return false;
  std::size_t at = 0;
  if (words[0] == "force" && words.size() > 1) at = 1;  // --force-delete
  for (string_view shape : kShapes) {
    if (words[at] != shape) continue;
    // --delete-after/--remove-after a transfer: wget's and rsync's download
    // housekeeping is judged by their own packs; here only the verb counts.
    if (verb != nullptr) *verb = shape;
    return true;
  }
  return false;
}

bool IsDryRunOption(std::string_view option) {
  if (option == "--help") return true;
  if (!option.starts_with("--")) return false;
  const std::size_t eq = option.find('=');
  string_view name = option.substr(0, eq);
  string_view value = eq == string_view::npos ? string_view() : option.substr(eq + 1);
  if (value == "false" || value == "0" || value == "no" || value == "none") return false;
  static constexpr string_view kNames[] = {"--dry-run", "--dryrun",  "--what-if",
                                           "--whatif",  "--noop",    "--simulate",
                                           "--plan",    "--preview", "--check"};
  return In(kNames, name);
}

}  // namespace dualkey::verbs
