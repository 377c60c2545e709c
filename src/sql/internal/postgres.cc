// PostgreSQL statements through libpg_query's parse tree (postgres.h): the
// Classifier's statements, and the two entry points. The tree's names and
// folding are pg_tree.h's; DO blocks and PL/pgSQL are pg_plpgsql.cc's.
#include "sql/internal/postgres.h"

#include <optional>
#include <utility>
#include <vector>

#include "sql/internal/json_tree.h"
#include "sql/internal/pg_classifier.h"
#include "sql/internal/pg_tree.h"

namespace dualkey::sql::internal {

void Classifier::Statement(std::string_view type, JsonNode body, std::string_view text) {
  auto simple = [&](std::string_view op_class, Severity severity, Reversibility reversibility,
                    std::vector<std::string> targets, std::string reason) {
    Emit(MakeAction(op_class, severity, reversibility, std::move(targets), std::move(reason)));
  };
  if (type == "SelectStmt") {
    if (JsonNode into = body["intoClause"]) {
      std::string name = RangeVarName(into["rel"]);
      if (into["rel"]["relpersistence"].raw() == "t") RecordTemp(into["rel"]);
      simple("db.create", Severity::kLow, Reversibility::kReversible, {name},
             "SELECT INTO creates table " + name);
    } else {
      simple("read.only", Severity::kNone, Reversibility::kReversible, {},
             "a query that only reads");
    }
    SettingsPin pin = PinnedSettings(body);
    if (!pin.active) {
      Walk(body);
      return;
    }
    for (JsonNode member : body) {
      if (member.key() == "targetList") {
        pin_ = pin;
        Walk(member);
        pin_ = SettingsPin{};
      } else if (member.is_object() || member.is_array()) {
        Walk(member);
      }
    }
    return;
  }
  if (IsOneOf(type, {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})) {
    RowWrite(type, body);
    return;
  }
  if (type == "DropStmt") return Drop(body);
  if (type == "DropdbStmt") {
    std::string name = body["dbname"].str();
    simple("db.drop", Severity::kCritical, Reversibility::kIrreversible, {name},
           "DROP DATABASE destroys database " + name + " and everything in it");
    return;
  }
  if (type == "DropRoleStmt") {
    std::vector<std::string> roles;
    for (JsonNode role : body["roles"]) roles.push_back(ObjectName(role));
    simple("db.role.drop", Severity::kHigh, Reversibility::kIrreversible, roles,
           "DROP ROLE removes " + JoinTargets(roles) + " (logins and grants are lost)");
    return;
  }
  if (type == "DropOwnedStmt") {
    std::vector<std::string> roles;
    for (JsonNode role : body["roles"]) roles.push_back(ObjectName(role));
    simple("db.drop", Severity::kCritical, Reversibility::kIrreversible, roles,
           "DROP OWNED drops every object owned by " + JoinTargets(roles));
    return;
  }
  if (type == "TruncateStmt") {
    std::vector<std::string> tables;
    bool all_temp = true;
    for (JsonNode relation : body["relations"]) {
      tables.push_back(RangeVarName(relation.node_body()));
      all_temp = all_temp && session_.IsTempTable(tables.back());
    }
    if (all_temp && !tables.empty()) {
      simple("db.write.temp", Severity::kLow, Reversibility::kIrreversible, tables,
             "TRUNCATE of a temporary table created in this input");
    } else {
      simple("db.truncate", Severity::kHigh, Reversibility::kIrreversible, tables,
             "TRUNCATE removes every row of " + JoinTargets(tables));
    }
    return;
  }
  if (type == "AlterTableStmt") return AlterTable(body);
  if (type == "CopyStmt") return Copy(body);
  if (type == "ExplainStmt") return Explain(body);
  if (type == "TransactionStmt") {
    simple("db.tx", Severity::kNone, Reversibility::kReversible, {}, "transaction control");
    return;
  }
  if (type == "VariableSetStmt") return SetVariable(body, "SET");
  if (type == "VariableShowStmt") {
    simple("read.only", Severity::kNone, Reversibility::kReversible, {}, "SHOW reads a setting");
    return;
  }
  if (type == "AlterSystemStmt") {
    std::string name = body["setstmt"]["name"].str();
    simple("db.config.system", Severity::kHigh, Reversibility::kRecoverable, {name},
           "ALTER SYSTEM changes the server's persistent configuration (" + name + ")");
    return;
  }
  if (type == "AlterRoleSetStmt" || type == "AlterDatabaseSetStmt") {
    SetVariable(body["setstmt"],
                type == "AlterRoleSetStmt" ? "ALTER ROLE ... SET" : "ALTER DATABASE ... SET");
    return;
  }
  if (type == "AlterRoleStmt" || type == "ReassignOwnedStmt") {
    std::string role = ObjectName(body["role"]);
    simple("db.role.alter", Severity::kMedium, Reversibility::kRecoverable, {role},
           type == "AlterRoleStmt" ? "ALTER ROLE changes how " + role + " logs in or what it may do"
                                   : "REASSIGN OWNED hands every object of a role to another");
    return;
  }
  if (type == "RenameStmt") {
    std::string_view kind = body["renameType"].raw();
    std::string name =
        body["relation"] ? RangeVarName(body["relation"]) : ObjectName(body["object"]);
    if (name.empty()) name = body["subname"].str();
    if (kind == "OBJECT_ROLE") {
      simple("db.role.alter", Severity::kMedium, Reversibility::kRecoverable,
             {body["subname"].str()}, "renaming a role breaks every login that uses its name");
    } else {
      simple("db.alter.rename", Severity::kLow, Reversibility::kReversible, {name},
             "RENAME changes a name; no data is lost and it can be renamed back");
    }
    return;
  }
  if (type == "PrepareStmt") {
    std::vector<Action> prepared;
    JsonNode query = body["query"];
    Classifier(session_, prepared).Statement(query.node_type(), query.node_body(), {});
    std::string name = body["name"].str();
    Session::Put(session_.prepared, name, std::move(prepared));
    simple("db.prepare", Severity::kNone, Reversibility::kReversible, {name},
           "PREPARE only defines " + name + "; EXECUTE runs it");
    return;
  }
  if (type == "ExecuteStmt") {
    std::string name = body["name"].str();
    const Session::Named* prepared = session_.FindPrepared(name);
    if (prepared == nullptr) {
      Emit(Opaque("EXECUTE " + name + " runs a prepared statement not defined in this input"));
      return;
    }
    for (Action action : prepared->actions) {
      action.reason = "EXECUTE " + name + ": " + action.reason;
      Emit(std::move(action));
    }
    Walk(body["params"]);
    return;
  }
  if (type == "DeallocateStmt") {
    std::string name = body["name"].str();  // absent for DEALLOCATE ALL
    std::erase_if(session_.prepared, [&](const Session::Named& entry) {
      return name.empty() || IEquals(entry.name, name);
    });
    simple("db.session", Severity::kNone, Reversibility::kReversible, {}, "DEALLOCATE");
    return;
  }
  if (type == "DiscardStmt" || type == "ListenStmt" || type == "UnlistenStmt" ||
      type == "NotifyStmt" || type == "ConstraintsSetStmt" || type == "ClosePortalStmt") {
    simple("db.session", Severity::kNone, Reversibility::kReversible, {}, "session bookkeeping");
    return;
  }
  if (type == "FetchStmt") {
    simple("read.only", Severity::kNone, Reversibility::kReversible, {},
           "FETCH reads from a cursor");
    return;
  }
  if (type == "DeclareCursorStmt") {
    JsonNode query = body["query"];
    Statement(query.node_type(), query.node_body(), {});
    return;
  }
  if (type == "DoStmt") return DoBlock(body, text);
  if (type == "CreateFunctionStmt") return CreateFunction(body, text);
  if (type == "CallStmt") {
    JsonNode call = body["funccall"];
    std::string name = LastName(call["funcname"]);
    if (!session_.FindFunction(name)) {
      simple("db.call", Severity::kLow, Reversibility::kUnknown, {name},
             "CALL runs procedure " + name + ", defined outside this input");
    }
    FunctionCall(call);
    Walk(call["args"]);
    return;
  }
  if (type == "CreateStmt") {
    std::string name = RangeVarName(body["relation"]);
    if (body["relation"]["relpersistence"].raw() == "t") RecordTemp(body["relation"]);
    simple("db.create", Severity::kLow, Reversibility::kReversible, {name}, "CREATE TABLE " + name);
    return;
  }
  if (type == "CreateTableAsStmt") {
    JsonNode rel = body["into"]["rel"];
    std::string name = RangeVarName(rel);
    if (rel["relpersistence"].raw() == "t") RecordTemp(rel);
    simple("db.create", Severity::kLow, Reversibility::kReversible, {name},
           "creates " + name + " from a query");
    JsonNode query = body["query"];
    Walk(query);
    return;
  }
  if (type == "LoadStmt") {
    std::string library = body["filename"].str();
    Emit(OpaqueExec("LOAD loads shared library " + library + " into the server", {library}));
    return;
  }
  if (type == "GrantStmt" || type == "GrantRoleStmt") {
    bool grant = body["is_grant"].boolean();
    simple("db.privilege", Severity::kLow, Reversibility::kReversible, {},
           std::string(grant ? "GRANT" : "REVOKE") + " changes privileges; it can be undone");
    return;
  }
  if (IsOneOf(type, {"VacuumStmt", "ClusterStmt", "ReindexStmt", "RefreshMatViewStmt",
                     "CheckPointStmt"})) {
    simple("db.maintenance", Severity::kLow, Reversibility::kReversible, {},
           "maintenance: statistics, vacuum, reindex or refresh");
    return;
  }
  if (type == "LockStmt") {
    simple("db.lock", Severity::kLow, Reversibility::kReversible, {},
           "LOCK lasts until the transaction ends");
    return;
  }
  if (type == "ViewStmt") {
    std::string name = RangeVarName(body["view"]);
    std::vector<Action> effects;
    Classifier(session_, effects).Walk(body["query"]);
    Session::Put(session_.views, name, Effects(effects));
    simple("db.create", Severity::kLow, Reversibility::kReversible, {name},
           "defines view " + name + "; its query runs only when read");
    return;
  }
  if (type == "CreateTrigStmt") {
    std::string name = body["trigname"].str();
    std::string table = RangeVarName(body["relation"]);
    std::string function = ToLower(LastName(body["funcname"]));
    bool emitted = false;
    if (const Session::Named* defined = session_.FindFunction(function)) {
      for (Action action : defined->actions) {
        if (!IsDestructive(action)) continue;
        action.reason =
            "trigger " + name + " on " + table + " will run " + function + "(): " + action.reason;
        Emit(std::move(action));
        emitted = true;
      }
    }
    if (!emitted) {
      simple("db.create", Severity::kLow, Reversibility::kReversible, {name, table},
             "creates trigger " + name + " on " + table);
    }
    return;
  }
  if (type == "RuleStmt") {
    std::string table = RangeVarName(body["relation"]);
    std::vector<Action> effects;
    Classifier(session_, effects).Walk(body["actions"]);
    bool emitted = false;
    for (Action& action : effects) {
      if (!IsDestructive(action)) continue;
      action.reason = "rule on " + table + " will run: " + action.reason;
      Emit(std::move(action));
      emitted = true;
    }
    if (!emitted) {
      simple("db.create", Severity::kLow, Reversibility::kReversible, {table},
             "creates a rewrite rule on " + table);
    }
    return;
  }
  if (type == "IndexStmt") {
    std::string table = RangeVarName(body["relation"]);
    simple("db.create", Severity::kLow, Reversibility::kReversible, {body["idxname"].str(), table},
           "creates an index on " + table);
    return;
  }
  if (type.starts_with("Drop")) {
    simple("db.drop", Severity::kHigh, Reversibility::kIrreversible, {},
           "a DROP statement (" + std::string(type) + ") removes an object");
    return;
  }
  if (type.starts_with("Create") ||
      IsOneOf(type, {"IndexStmt", "ViewStmt", "DefineStmt", "RuleStmt", "CompositeTypeStmt",
                     "ImportForeignSchemaStmt"})) {
    simple("db.create", Severity::kLow, Reversibility::kReversible, {},
           "creates or replaces a definition (" + std::string(type) + ")");
    return;
  }
  if (type.starts_with("Alter") || IsOneOf(type, {"CommentStmt", "SecLabelStmt"})) {
    simple("db.alter", Severity::kLow, Reversibility::kReversible, {},
           "changes a definition (" + std::string(type) + ")");
    return;
  }
  Emit(Opaque("statement type " + std::string(type) + " is not classified"));
}

void Classifier::RecordTemp(JsonNode range_var) {
  std::string name = range_var["relname"].str();
  if (!name.empty()) session_.temp_tables.push_back(std::move(name));
}

void Classifier::RowWrite(std::string_view type, JsonNode body) {
  JsonNode relation = body["relation"];
  std::string table = RangeVarName(relation);
  std::vector<std::string> targets{table};
  if (type == "InsertStmt") {
    // INSERT ... SELECT ... ON CONFLICT DO UPDATE overwrites every existing
    // row its source collides with: as many as the query returns, decided at
    // run time (all of them when it reads the table it writes). A VALUES
    // list names its rows; a WHERE on the DO UPDATE bounds it.
    JsonNode conflict = body["onConflictClause"];  // a typed field: no node wrapper
    if (conflict["OnConflictClause"]) conflict = conflict["OnConflictClause"];
    JsonNode source = body["selectStmt"]["SelectStmt"];
    if (conflict && conflict["action"].raw() == "ONCONFLICT_UPDATE" && source &&
        !source["valuesLists"] && !conflict["whereClause"]) {
      bool reads_itself = false;
      for (JsonNode from : source["fromClause"])
        if (RangeVarName(from["RangeVar"]) == table) reads_itself = true;
      if (reads_itself) {
        Emit(MakeAction("db.update.unbounded", Severity::kHigh, Reversibility::kIrreversible,
                        targets,
                        "INSERT ... SELECT FROM " + table +
                            " ON CONFLICT DO UPDATE overwrites every row of " + table));
      } else {
        Emit(MakeAction("db.update", Severity::kMedium, Reversibility::kIrreversible, targets,
                        "INSERT ... SELECT ... ON CONFLICT DO UPDATE overwrites every row of " +
                            table +
                            " that its query collides with; how many depends on the query"));
      }
      Walk(body);
      return;
    }
    Emit(MakeAction("db.write", Severity::kLow, Reversibility::kReversible, targets,
                    "INSERT adds rows to " + table));
    Walk(body);
    return;
  }
  const bool is_delete = type == "DeleteStmt";
  const std::string verb = is_delete ? "DELETE" : (type == "UpdateStmt" ? "UPDATE" : "MERGE");
  if (type == "MergeStmt") {
    bool removes = false;
    bool deletes = false;
    for (JsonNode when : body["mergeWhenClauses"]) {
      std::string_view command = when["MergeWhenClause"]["commandType"].raw();
      if (command == "CMD_DELETE" || command == "CMD_UPDATE") removes = true;
      if (command == "CMD_DELETE") deletes = true;
    }
    std::string why;
    JsonNode join = body["joinCondition"];
    if (removes && (!join || MatchesAllRows(join, table, &why))) {
      Emit(MakeAction("db.update.unbounded", Severity::kHigh, Reversibility::kIrreversible, targets,
                      "MERGE into " + table + " changes or deletes every row: " + why));
    } else if (deletes) {
      // WHEN MATCHED THEN DELETE removes every target row the source
      // matches: as many as the other table holds, decided at run time.
      Emit(MakeAction("db.delete", Severity::kMedium, Reversibility::kIrreversible, targets,
                      "MERGE deletes every row of " + table +
                          " that its source matches; how many depends on the other table"));
    } else {
      Emit(MakeAction("db.write", Severity::kLow, Reversibility::kIrreversible, targets,
                      "MERGE changes rows of " + table + " matched by its join condition"));
    }
    Walk(body);
    return;
  }
  JsonNode where = body["whereClause"];
  std::string why;
  bool unbounded = false;
  if (!where) {
    unbounded = true;
    why = "it has no WHERE clause";
  } else {
    unbounded = MatchesAllRows(where, table, &why);
  }
  if (unbounded && session_.IsTempTable(table)) {
    Emit(MakeAction("db.write.temp", Severity::kLow, Reversibility::kIrreversible, targets,
                    verb + " of a temporary table created in this input"));
  } else if (unbounded) {
    Emit(MakeAction(is_delete ? "db.delete.unbounded" : "db.update.unbounded", Severity::kHigh,
                    Reversibility::kIrreversible, targets,
                    verb + (is_delete ? " removes every row of " : " overwrites every row of ") +
                        table + ": " + why));
  } else {
    Emit(MakeAction("db.write.bounded", Severity::kLow, Reversibility::kIrreversible, targets,
                    verb + " of " + table + " limited by its WHERE clause"));
  }
  Walk(body);
}

void Classifier::Drop(JsonNode body) {
  std::string_view kind = body["removeType"].raw();
  const bool cascade = body["behavior"].raw() == "DROP_CASCADE";
  std::vector<std::string> names;
  bool all_temp = true;
  for (JsonNode object : body["objects"]) {
    names.push_back(ObjectName(object));
    all_temp = all_temp && session_.IsTempTable(names.back());
  }
  std::string object_kind(kind.starts_with("OBJECT_") ? kind.substr(7) : kind);
  object_kind = ToLower(object_kind);
  for (char& c : object_kind) c = (c == '_') ? ' ' : c;
  const std::string list = JoinTargets(names);
  if (kind == "OBJECT_TABLE" && all_temp && !names.empty() && !cascade) {
    Emit(MakeAction("db.drop.temp", Severity::kLow, Reversibility::kIrreversible, names,
                    "drops temporary table " + list + " created earlier in this input"));
    return;
  }
  // An index or extended statistics hold no data: they can be rebuilt.
  if ((kind == "OBJECT_INDEX" && !cascade) || kind == "OBJECT_STATISTIC_EXT") {
    Emit(MakeAction("db.drop.index", Severity::kLow, Reversibility::kRecoverable, names,
                    "drops " + object_kind + " " + list + "; no data is lost, it can be rebuilt"));
    return;
  }
  Severity severity = Severity::kHigh;
  if (kind == "OBJECT_SCHEMA" && cascade) severity = Severity::kCritical;
  std::string reason = "DROP " + object_kind + " " + list;
  if (cascade) reason += " CASCADE (dependent objects go too)";
  Emit(MakeAction("db.drop", severity, Reversibility::kIrreversible, names, reason));
}

void Classifier::AlterTable(JsonNode body) {
  std::string table = RangeVarName(body["relation"]);
  bool emitted = false;
  for (JsonNode wrapper : body["cmds"]) {
    JsonNode cmd = wrapper["AlterTableCmd"];
    std::string_view subtype = cmd["subtype"].raw();
    std::string name = cmd["name"].str();
    std::string target = name.empty() ? table : table + "." + name;
    if (subtype == "AT_DropColumn") {
      Emit(MakeAction("db.alter.destructive", Severity::kHigh, Reversibility::kIrreversible,
                      {target}, "DROP COLUMN " + target + " destroys the column's data"));
      emitted = true;
    } else if (subtype == "AT_DropConstraint") {
      Emit(MakeAction("db.alter.destructive", Severity::kHigh, Reversibility::kIrreversible,
                      {target},
                      "DROP CONSTRAINT " + name + " on " + table + " removes an integrity rule"));
      emitted = true;
    } else if (subtype == "AT_AlterColumnType") {
      JsonNode using_expr = cmd["def"]["ColumnDef"]["raw_default"];
      if (using_expr && !ReadsRow(using_expr)) {
        Emit(MakeAction("db.alter.rewrite", Severity::kHigh, Reversibility::kIrreversible, {target},
                        "ALTER COLUMN " + target +
                            " TYPE ... USING an expression that ignores the old value erases it"));
        emitted = true;
      }
    } else if (IsOneOf(subtype, {"AT_DisableTrig", "AT_DisableTrigAll", "AT_DisableTrigUser"})) {
      Emit(MakeAction(
          "db.alter.triggers_disabled", Severity::kMedium, Reversibility::kRecoverable, {table},
          "DISABLE TRIGGER on " + table + " switches off triggers (and with ALL, foreign keys)"));
      emitted = true;
    }
  }
  if (!emitted) {
    Emit(MakeAction("db.alter", Severity::kLow, Reversibility::kReversible, {table},
                    "ALTER TABLE " + table + " without dropping data"));
  }
  Walk(body["cmds"]);
}

void Classifier::Copy(JsonNode body) {
  std::string table = body["relation"] ? RangeVarName(body["relation"]) : std::string();
  std::string file = body["filename"].str();
  std::vector<std::string> targets;
  if (!table.empty()) targets.push_back(table);
  if (body["is_program"].boolean()) {
    Emit(OpaqueExec(
        "COPY ... PROGRAM runs shell command " + Quoted(file) + " on the database server",
        targets));
  } else if (body["is_from"].boolean()) {
    Emit(MakeAction("db.write", Severity::kLow, Reversibility::kReversible, targets,
                    "COPY FROM loads rows into " + table));
  } else if (!file.empty()) {
    targets.push_back(file);
    Emit(MakeAction(
        "db.file.write", Severity::kMedium, Reversibility::kIrreversible, targets,
        "COPY TO a server file creates or overwrites " + file + " on the database host"));
  } else {
    Emit(MakeAction("read.only", Severity::kNone, Reversibility::kReversible, targets,
                    "COPY TO STDOUT exports to the client"));
  }
  Walk(body["query"]);
}

void Classifier::Explain(JsonNode body) {
  bool analyze = false;
  for (JsonNode option : body["options"]) {
    JsonNode def = option["DefElem"];
    if (def["defname"].str() != "analyze") continue;
    JsonNode arg = def["arg"];
    if (!arg) {
      analyze = true;
    } else if (auto value = ConstantOf(arg)) {
      analyze = ConstantTruth(*value) != Truth::kFalse;
    } else {
      std::string text = arg["String"] ? StringValue(arg) : std::string("true");
      if (arg["Boolean"]) text = arg["Boolean"]["boolval"].boolean() ? "true" : "false";
      if (arg["Integer"]) text = arg["Integer"]["ival"].integer() ? "true" : "false";
      analyze = BoolLiteral(text) != Truth::kFalse;
    }
  }
  JsonNode query = body["query"];
  if (analyze) {
    Statement(query.node_type(), query.node_body(), {});
    return;
  }
  Emit(MakeAction("read.only", Severity::kNone, Reversibility::kReversible, {},
                  "EXPLAIN without ANALYZE plans the statement but does not run it"));
}

void Classifier::SetVariable(JsonNode set_stmt, std::string_view context) {
  std::string name = set_stmt["name"].str();
  std::string value;
  JsonNode first = set_stmt["args"].first_child();
  if (auto constant = ConstantOf(first)) value = constant->text;
  std::string danger = DangerousSetting(name, value);
  if (!danger.empty()) {
    Emit(MakeAction("db.config.destructive", Severity::kHigh, Reversibility::kRecoverable, {name},
                    std::string(context) + " " + name + ": " + danger));
    return;
  }
  Emit(MakeAction("db.session", Severity::kNone, Reversibility::kReversible, {name},
                  std::string(context) + " " + name));
}

void Classifier::Walk(JsonNode node, int depth) {
  if (depth > kMaxWalkDepth) {
    Emit(Opaque("the statement is nested too deeply to inspect"));
    return;
  }
  if (node.is_array()) {
    for (JsonNode child : node) Walk(child, depth + 1);
    return;
  }
  if (!node.is_object()) return;
  for (JsonNode member : node) {
    std::string_view key = member.key();
    if (IsOneOf(key, {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})) {
      RowWrite(key, member);  // a data-modifying CTE runs in full
      continue;
    }
    if (key == "SelectStmt" && pin_.active) {
      // A subquery has its own FROM: the outer WHERE pins nothing there.
      SettingsPin outer = std::exchange(pin_, SettingsPin{});
      Walk(member, depth + 1);
      pin_ = std::move(outer);
      continue;
    }
    if (key == "FuncCall") FunctionCall(member);
    if (key == "RangeVar" && !session_.views.empty()) {
      std::string name = RangeVarName(member);
      if (const Session::Named* view = session_.FindView(name)) {
        for (Action action : view->actions) {
          action.reason = "reads view " + name + " defined in this input: " + action.reason;
          Emit(std::move(action));
        }
      }
    }
    if (member.is_object() || member.is_array()) Walk(member, depth + 1);
  }
}

void Classifier::FunctionCall(JsonNode body) {
  std::string name = ToLower(LastName(body["funcname"]));
  JsonNode args = body["args"];
  if (name == "dblink_exec" || name == "dblink" || name == "dblink_send_query") {
    // The SQL is the last argument; with one argument it is the only one.
    JsonNode sql_arg;
    for (JsonNode arg : args) sql_arg = arg;
    auto sql = FoldString(sql_arg);
    if (!sql) {
      Emit(Opaque(name + " runs computed SQL on another server"));
      return;
    }
    std::vector<Action> effects;
    Nested(*sql, effects);
    for (Action& action : Effects(effects)) {
      action.reason = name + " on a remote server: " + action.reason;
      Emit(std::move(action));
    }
    return;
  }
  if (name == "set_config") {
    JsonNode setting_arg = args.first_child();
    std::vector<std::string> settings;
    if (auto setting = FoldString(setting_arg)) {
      settings.push_back(*setting);
    } else if (pin_.active && NameColumn(setting_arg, pin_)) {
      settings = pin_.names;
    }
    auto value = FoldString(setting_arg.next_sibling());
    if (settings.empty()) {
      // Any setting at all: harmless only if no setting takes this value
      // as a way to switch a safety net off.
      if (!value || !ValueHarmlessForAnySetting(*value))
        Emit(Opaque("set_config with a computed setting"));
      return;
    }
    for (const std::string& setting : settings) {
      if (!value) {
        if (SettingCanBeDangerous(setting))
          Emit(Opaque("set_config " + setting + " with a computed value"));
        continue;
      }
      std::string danger = DangerousSetting(setting, *value);
      if (!danger.empty()) {
        Emit(MakeAction("db.config.destructive", Severity::kHigh, Reversibility::kRecoverable,
                        {setting}, "set_config " + setting + ": " + danger));
      }
    }
    return;
  }
  if (const FunctionRule* rule = FindFunctionRule(name)) {
    Emit(MakeAction(rule->op_class, rule->severity, rule->reversibility, {name},
                    name + "() " + std::string(rule->what)));
    return;
  }
  if (const Session::Named* function = session_.FindFunction(name)) {
    for (Action action : function->actions) {
      action.reason = "calls " + name + "() defined in this input: " + action.reason;
      Emit(std::move(action));
    }
  }
}

bool ClassifyPostgres(std::string_view sql, Session& session, std::vector<Action>& out,
                      std::string* error) {
  const std::string text(sql);
  ParsedSql parsed(text);
  if (!parsed.parsed()) {
    *error = parsed.error();
    return false;
  }
  if (!parsed.tree_ok()) {
    out.push_back(Opaque("the PostgreSQL parse tree could not be read"));
    return true;
  }
  Classifier classifier(session, out);
  for (JsonNode statement : parsed.statements()) {
    long long location = statement["stmt_location"].integer();
    long long length = statement["stmt_len"].integer();
    std::string_view statement_text;
    if (location >= 0 && static_cast<std::size_t>(location) <= text.size()) {
      statement_text = std::string_view(text).substr(static_cast<std::size_t>(location));
      if (length > 0) statement_text = statement_text.substr(0, static_cast<std::size_t>(length));
    }
    classifier.TopLevel(statement["stmt"], statement_text);
  }
  return true;
}

ConditionVerdict JudgeCondition(std::string_view condition, std::string_view table,
                                std::string* why) {
  std::string text = "SELECT 1 WHERE ";
  text.append(condition);
  ParsedSql parsed(text);
  if (!parsed.parsed() || !parsed.tree_ok()) return ConditionVerdict::kUnparseable;
  JsonNode statement = parsed.statements().first_child();
  if (!statement.valid() || statement.next_sibling().valid()) return ConditionVerdict::kUnparseable;
  JsonNode where = statement["stmt"]["SelectStmt"]["whereClause"];
  if (!where) return ConditionVerdict::kUnparseable;
  return MatchesAllRows(where, table, why) ? ConditionVerdict::kAllRows
                                           : ConditionVerdict::kBounded;
}

}  // namespace dualkey::sql::internal
