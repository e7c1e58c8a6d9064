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

}  // namespace sidecar::inventory
