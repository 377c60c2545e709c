#include "pq/libpq.h"

#include "base/shared_library.h"

namespace dualkey::pq {

const LibPq& Api() {
  static const LibPq lib = [] {
    LibPq l;
    base::SharedLibrary so({"libpq.so.5"});
    if (!so.opened()) return l;
    so.Bind(l.ntuples, "PQntuples");
    so.Bind(l.getvalue, "PQgetvalue");
    so.Bind(l.status, "PQstatus");
    so.Bind(l.error_message, "PQerrorMessage");
    so.Bind(l.cmd_tuples, "PQcmdTuples");
    so.Bind(l.result_status, "PQresultStatus");
    so.Bind(l.result_error_message, "PQresultErrorMessage");
    so.Bind(l.result_error_field, "PQresultErrorField");
    so.Bind(l.reset, "PQreset");
    so.Bind(l.finish, "PQfinish");
    so.Bind(l.exec_params, "PQexecParams");
    so.Bind(l.exec, "PQexec");
    so.Bind(l.connectdb_params, "PQconnectdbParams");
    so.Bind(l.connectdb, "PQconnectdb");
    so.Bind(l.clear, "PQclear");
    so.Bind(l.transaction_status, "PQtransactionStatus");
    so.Bind(l.set_notice_processor, "PQsetNoticeProcessor");
    l.loaded = so.all_bound();
    return l;
  }();
  return lib;
}

}  // namespace dualkey::pq
