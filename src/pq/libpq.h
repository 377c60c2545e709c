// libpq, loaded with dlopen on first use. libpq brings Kerberos, LDAP and
// GnuTLS along: some twenty shared libraries that would cost ~4 ms at every
// `dualkey` process start, and the hook starts a process per tool call. Only
// the PostgreSQL store and `dualkey demo` need it; the header still gives the
// exact signatures.
#pragma once

#include <libpq-fe.h>

namespace dualkey::pq {

struct LibPq {
  decltype(&::PQntuples) ntuples = nullptr;
  decltype(&::PQgetvalue) getvalue = nullptr;
  decltype(&::PQstatus) status = nullptr;
  decltype(&::PQerrorMessage) error_message = nullptr;
  decltype(&::PQcmdTuples) cmd_tuples = nullptr;
  decltype(&::PQresultStatus) result_status = nullptr;
  decltype(&::PQresultErrorMessage) result_error_message = nullptr;
  decltype(&::PQresultErrorField) result_error_field = nullptr;
  decltype(&::PQreset) reset = nullptr;
  decltype(&::PQfinish) finish = nullptr;
  decltype(&::PQexecParams) exec_params = nullptr;
  decltype(&::PQexec) exec = nullptr;
  decltype(&::PQconnectdbParams) connectdb_params = nullptr;
  decltype(&::PQconnectdb) connectdb = nullptr;
  decltype(&::PQclear) clear = nullptr;
  decltype(&::PQtransactionStatus) transaction_status = nullptr;
  decltype(&::PQsetNoticeProcessor) set_notice_processor = nullptr;
  bool loaded = false;  // false: libpq.so.5 is missing; every pointer may be null
};

// Loads once, thread-safe.
const LibPq& Api();

}  // namespace dualkey::pq
