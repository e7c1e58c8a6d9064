#include "inventory/batch.hpp"

namespace sidecar::inventory {

Outcome outcome_for(DbFault fault, const std::exception& e) {
  switch (fault) {
    case DbFault::broken: return Outcome::retry(std::string("database unavailable: ") + e.what());
    case DbFault::transient: return Outcome::retry(std::string("database busy: ") + e.what());
    case DbFault::permanent: return Outcome::failed(std::string("database error: ") + e.what());
  }
  return Outcome::failed(e.what());
}

TxEnd end_with_fault(PgSession& pg, std::vector<Outcome>& out, const std::vector<std::size_t>& todo,
                     const std::exception& e) noexcept {
  DbFault fault = classify(e);
  if (fault == DbFault::broken) pg.reset();
  try {
    Outcome o = outcome_for(fault, e);
    for (std::size_t i : todo) out[i] = o;
  } catch (...) {
    for (std::size_t i : todo) out[i] = Outcome::retry("out of memory");
  }
  return fault == DbFault::broken ? TxEnd::broken : TxEnd::failed;
}

}  // namespace sidecar::inventory
