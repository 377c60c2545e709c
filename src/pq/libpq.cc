#include "pq/libpq.h"

#include <dlfcn.h>

#include <type_traits>

namespace dualkey::pq {

const LibPq& Api() {
  static const LibPq lib = [] {
    LibPq l;
    void* handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return l;
    bool all = true;
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      all = all && fn != nullptr;
    };
    bind(l.ntuples, "PQntuples");
    bind(l.getvalue, "PQgetvalue");
    bind(l.status, "PQstatus");
    bind(l.error_message, "PQerrorMessage");
    bind(l.cmd_tuples, "PQcmdTuples");
    bind(l.result_status, "PQresultStatus");
    bind(l.result_error_message, "PQresultErrorMessage");
    bind(l.result_error_field, "PQresultErrorField");
    bind(l.reset, "PQreset");
    bind(l.finish, "PQfinish");
    bind(l.exec_params, "PQexecParams");
    bind(l.exec, "PQexec");
    bind(l.connectdb_params, "PQconnectdbParams");
    bind(l.connectdb, "PQconnectdb");
    bind(l.clear, "PQclear");
    bind(l.transaction_status, "PQtransactionStatus");
    bind(l.set_notice_processor, "PQsetNoticeProcessor");
    l.loaded = all;
    return l;
  }();
  return lib;
}

}  // namespace dualkey::pq
