// The database client pack's internals (packs/dbcli/*.cc): the helpers every
// client handler shares, and the handlers the pack table (dbcli.cc) names.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"
#include "shell/internal/paths.h"

namespace dualkey::shell::dbcli {

// ---------------------------------------------------------------- text helpers

using base::IContains;
using base::IEquals;
using base::IStartsWith;
using shared::Lower;
bool IsSpace(char c);
std::string_view Trim(std::string_view text);
bool IsBlank(std::string_view text);
bool IsIdentChar(char c);
std::string_view Basename(std::string_view path);
std::string_view Unquote(std::string_view text);
std::vector<std::string> SplitWords(std::string_view line);

// ------------------------------------------------------------ option walking

// One word of a command line after option parsing.
struct Word {
  std::string_view option;  // "-c", "--command"; empty for an operand
  std::string_view value;   // the option's value or the operand's text
  bool has_value = false;
  bool known = true;
};

struct OptionSpec {
  std::string_view short_with_value;                  // e.g. "cdfhp": -c X, -cX
  std::string_view short_attached_only;               // e.g. "p" for mysql -pSECRET
  std::span<const std::string_view> long_with_value;  // "--command"
  // The value of a short option may not look like a long option (mongosh's
  // `-p` prompts when given no password: `-p --eval ...`).
  bool value_not_long_option = false;
};

std::string_view ShortName(char c);
std::vector<Word> Walk(std::span<const Arg> args, const OptionSpec& spec);
bool IsOpt(const Word& word, std::string_view short_name, std::string_view long_name = {});
bool HasOpt(const std::vector<Word>& words, std::string_view short_name,
            std::string_view long_name = {});
std::string_view OptValue(const std::vector<Word>& words, std::string_view short_name,
                          std::string_view long_name = {});
std::vector<const Word*> OperandsOf(const std::vector<Word>& words);
using shared::ArgsOf;

// ---------------------------------------------------------------- emitting

std::vector<std::string> Targets(std::string_view target);
void EmitRead(Context& ctx, std::string_view target, std::string reason);
bool ReadLocalSqlFile(const Invocation& inv, const Word& word, std::string* out);
void EmitOpaqueSql(Context& ctx, std::string_view target, std::string reason);
void Emit(Context& ctx, std::string op_class, std::string_view target, Reversibility rev,
          Severity severity, std::string reason);
bool EchoedText(const Invocation& inv, std::string* out, bool* known = nullptr);

// Where SQL text for a client comes from when no -c/-e/-f names it.
enum class StdinSource { kNone, kText, kFile, kPipe };

bool StdinFromFile(const Invocation& inv, std::string* file);
bool DumpProducer(const Invocation& inv, bool* drops);
StdinSource ClientStdin(const Invocation& inv, std::string* text, bool* known = nullptr);
bool ClassifyUnreadableStdin(const Invocation& inv, StdinSource source, std::string_view file,
                             std::string_view target, std::string_view client, Context& ctx);

// ------------------------------------------------------ connection targets

std::string PgTarget(std::string_view host, std::string_view db);
// Reads host and database out of a postgres:// URI or "host=x dbname=y".
void ParseConnString(std::string_view conn, std::string* host, std::string* db);

// ---------------------------------------------------------------- handlers

void HandlePsql(const Invocation& inv, Context& ctx);
void HandleDropdb(const Invocation& inv, Context& ctx);
void HandleDropuser(const Invocation& inv, Context& ctx);
void HandleCreatedb(const Invocation& inv, Context& ctx);
void HandlePgDump(const Invocation& inv, Context& ctx);
void HandlePgRestore(const Invocation& inv, Context& ctx);
void HandlePgDropcluster(const Invocation& inv, Context& ctx);
void HandlePgCtl(const Invocation& inv, Context& ctx);
void HandlePgResetwal(const Invocation& inv, Context& ctx);
void HandlePgArchivecleanup(const Invocation& inv, Context& ctx);
void HandleMysql(const Invocation& inv, Context& ctx);
void HandleMysqladmin(const Invocation& inv, Context& ctx);
void HandleSqlDump(const Invocation& inv, Context& ctx);
void HandleSqlite(const Invocation& inv, Context& ctx);
void HandleRedisCli(const Invocation& inv, Context& ctx);
void HandleMongosh(const Invocation& inv, Context& ctx);
void HandleMongoTool(const Invocation& inv, Context& ctx);
void HandleClickhouseClient(const Invocation& inv, Context& ctx);
void HandleClickhouse(const Invocation& inv, Context& ctx);
void HandleCqlsh(const Invocation& inv, Context& ctx);

}  // namespace dualkey::shell::dbcli
