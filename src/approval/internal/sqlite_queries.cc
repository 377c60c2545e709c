#include "approval/internal/sqlite.h"

namespace dualkey::approval::internal {

std::string Sql(Query query) {
  const std::string columns = kRequestColumns;
  switch (query) {
    case kFindLive:
      return "SELECT " + columns +
             " FROM requests WHERE action_hash = ?1 AND state IN ('pending', 'approved')"
             " AND expires_ms > ?2 ORDER BY created_ms, rowid LIMIT 1";
    case kCodeTaken:
      return "SELECT 1 FROM requests WHERE id = ?1 OR code = ?2";
    case kInsert:
      return "INSERT INTO requests (" + columns +
             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
    case kFindByIdOrCode:
      return "SELECT " + columns + " FROM requests WHERE id = ?1 OR code = ?1";
    case kUpdateDecision:
      return "UPDATE requests SET approvers = ?2, state = ?3, denied_by = ?4, deny_reason = ?5"
             " WHERE id = ?1";
    case kConsume:
      return "UPDATE requests SET state = 'consumed' WHERE id = (SELECT id FROM requests"
             " WHERE action_hash = ?1 AND state = 'approved' AND expires_ms > ?2"
             " ORDER BY created_ms, rowid LIMIT 1) AND state = 'approved' RETURNING " +
             columns;
    case kPending:
      return "SELECT " + columns +
             " FROM requests WHERE state = 'pending' AND expires_ms > ?1"
             " ORDER BY created_ms, rowid";
    case kExpire:
      return "UPDATE requests SET state = 'expired' WHERE state IN ('pending', 'approved')"
             " AND expires_ms <= ?1 RETURNING " +
             columns;
    case kAddApprover:
      return "INSERT INTO approvers (name, secret, last_step) VALUES (?1, ?2, -1)"
             " ON CONFLICT (name) DO NOTHING";
    case kApproverSecret:
      return "SELECT secret, last_step FROM approvers WHERE name = ?1";
    case kApproverNames:
      return "SELECT name FROM approvers ORDER BY name";
    case kUseStep:
      return "UPDATE approvers SET last_step = ?2 WHERE name = ?1 AND last_step < ?2";
    case kApproverExists:
      return "SELECT 1 FROM approvers WHERE name = ?1";
    case kSetFrozen:
      return "INSERT INTO frozen_agents (agent, frozen, why, updated_ms) VALUES (?1, ?2, ?3, ?4)"
             " ON CONFLICT (agent) DO UPDATE SET frozen = excluded.frozen, why = excluded.why,"
             " updated_ms = excluded.updated_ms";
    case kIsFrozen:
      return "SELECT frozen FROM frozen_agents WHERE agent = ?1";
    case kHasApproval:
      return "SELECT id FROM requests WHERE action_hash = ?1 AND state = 'approved'"
             " AND expires_ms > ?2 LIMIT 1";
    case kFreezes:
      return "SELECT agent, frozen, why, updated_ms FROM frozen_agents ORDER BY updated_ms";
    case kRelease:
      return "UPDATE requests SET state = 'approved' WHERE id = ?1 AND state = 'consumed'";
    case kApproverCount:
      return "SELECT count(*) FROM approvers";
    case kRemoveApprover:
      return "DELETE FROM approvers WHERE name = ?1";
    case kRotateApprover:
      return "UPDATE approvers SET secret = ?2 WHERE name = ?1";
    case kAuthRow:
      return "SELECT failures, locked_until_ms, last_failure_ms FROM auth_failures WHERE scope = "
             "?1";
    case kAuthUpsert:
      return "INSERT INTO auth_failures (scope, failures, locked_until_ms, last_failure_ms)"
             " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope) DO UPDATE SET"
             " failures = excluded.failures, locked_until_ms = excluded.locked_until_ms,"
             " last_failure_ms = excluded.last_failure_ms";
    case kAuthForgive:
      return "UPDATE auth_failures SET failures = ?2, locked_until_ms = ?3, last_failure_ms = ?4"
             " WHERE scope = ?1 AND failures = ?5 AND locked_until_ms = ?6"
             " AND last_failure_ms = ?7";
    case kAuthList:
      return "SELECT scope, failures, locked_until_ms, last_failure_ms FROM auth_failures"
             " WHERE failures > 0 AND (last_failure_ms > ?1 OR locked_until_ms > ?2)"
             " ORDER BY scope";
    case kAuthForget:
      return "DELETE FROM auth_failures WHERE locked_until_ms <= ?1"
             " AND (failures = 0 OR last_failure_ms <= ?2)";
    case kSealRemember:
      return "INSERT INTO audit_checkpoints (log_id, seq, hash, sig, public_key, time_ms)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (log_id, seq) DO UPDATE SET"
             " hash = excluded.hash, sig = excluded.sig, public_key = excluded.public_key,"
             " time_ms = excluded.time_ms";
    case kSealLast:
      return "SELECT seq, hash, sig, public_key, time_ms FROM audit_checkpoints"
             " WHERE log_id = ?1 ORDER BY seq DESC LIMIT 1";
    case kItemInsert:
      return "INSERT INTO items (kind, key, owner, value, counter, expires_ms)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, key) DO NOTHING";
    case kItemReplace:
      return "INSERT INTO items (kind, key, owner, value, counter, expires_ms)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, key) DO UPDATE SET"
             " owner = excluded.owner, value = excluded.value, counter = excluded.counter,"
             " expires_ms = excluded.expires_ms";
    case kItemGet:
      return "SELECT kind, key, owner, value, counter, expires_ms FROM items"
             " WHERE kind = ?1 AND key = ?2 AND (expires_ms = 0 OR expires_ms > ?3)";
    case kItemList:
      return "SELECT kind, key, owner, value, counter, expires_ms FROM items"
             " WHERE kind = ?1 AND owner = ?2 AND (expires_ms = 0 OR expires_ms > ?3) ORDER BY key";
    case kItemListAll:
      return "SELECT kind, key, owner, value, counter, expires_ms FROM items"
             " WHERE kind = ?1 AND (expires_ms = 0 OR expires_ms > ?2) ORDER BY key";
    case kItemDelete:
      return "DELETE FROM items WHERE kind = ?1 AND key = ?2";
    case kItemTake:
      return "DELETE FROM items WHERE kind = ?1 AND key = ?2 AND (expires_ms = 0 OR expires_ms > "
             "?3)"
             " RETURNING kind, key, owner, value, counter, expires_ms";
    case kItemAdvance:
      return "UPDATE items SET counter = ?4 WHERE kind = ?1 AND key = ?2 AND counter = ?3";
    case kItemPurge:
      return "DELETE FROM items WHERE expires_ms > 0 AND expires_ms <= ?1";
    case kItemDeleteOwned:
      return "DELETE FROM items WHERE kind = ?1 AND owner = ?2";
    case kQueryCount:
      break;
  }
  return {};
}

// A cached prepared statement in use: bound, stepped, reset when done.

}  // namespace dualkey::approval::internal
