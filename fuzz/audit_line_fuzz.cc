// libFuzzer: a line of the audit log, whatever a writer (or someone editing
// the file) put there, read as audit::Read reads it: parsed, a "decisions"
// entry given back as its items (audit::AppendReadable), each printed as
// export prints it. Aborts when a readable entry is not a JSON object with
// the line's seq and hash, an item's fields lack the batch's source, or
// reading it from its parsed fields (as Read does) gives other records.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "audit/audit.h"
#include "audit/internal/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace audit = dualkey::audit;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  audit::internal::ParsedLine parsed = audit::internal::ParseLine(line);
  if (parsed.kind != audit::internal::LineKind::kEntry) return 0;
  audit::Entry entry;
  entry.seq = parsed.entry.seq;
  entry.time_ms = parsed.entry.time_ms;
  entry.kind = parsed.entry.kind;
  entry.fields = audit::internal::DumpCanonical(parsed.entry.fields);
  entry.hash = parsed.entry.hash;
  const bool batch = entry.kind == "decisions";
  const nlohmann::json batch_fields = nlohmann::json::parse(entry.fields, nullptr, false);
  std::vector<audit::Entry> readable;
  audit::AppendReadable(entry, &readable);
  if (readable.empty()) std::abort();
  // Read gives the entry back from its parsed fields: the same records.
  std::vector<audit::Entry> from_tree;
  audit::internal::AppendReadable(parsed.entry, &from_tree);
  if (from_tree.size() != readable.size()) std::abort();
  for (std::size_t i = 0; i < readable.size(); ++i)
    if (from_tree[i].kind != readable[i].kind || from_tree[i].item != readable[i].item ||
        from_tree[i].fields != readable[i].fields || from_tree[i].seq != readable[i].seq)
      std::abort();
  for (const audit::Entry& one : readable) {
    if (one.seq != entry.seq || one.hash != entry.hash) std::abort();
    const nlohmann::json fields = nlohmann::json::parse(one.fields, nullptr, false);
    if (!fields.is_object() && !(one.item == 0 && fields == batch_fields)) std::abort();
    if (one.item > 0) {
      if (!batch || one.kind != "decision") std::abort();
      if (batch_fields.contains("source") &&
          (!fields.contains("source") || fields.at("source") != batch_fields.at("source")))
        std::abort();
    }
    const nlohmann::json printed =
        nlohmann::json::parse(audit::internal::EntryJsonLine(one), nullptr, false);
    if (!printed.is_object() || printed.value("seq", ~std::uint64_t{0}) != one.seq) std::abort();
  }
  return 0;
}
