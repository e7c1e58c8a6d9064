#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "sidecar/message.hpp"

namespace sidecar {

enum class OutcomeKind {
  handled,    // done; ack after any emitted messages are confirmed
  duplicate,  // seen before; nothing changed; ack
  rejected,   // the message itself is bad: dead-letter it with `reason`, then ack
  retry,      // transient fault (a backend is down): back off and try again, never dead-lettered
  failed,     // the handler failed on this message: retried up to the configured attempts, then
              // dead-lettered with `reason`
};

const char* to_string(OutcomeKind kind);

struct Outcome {
  OutcomeKind kind = OutcomeKind::handled;
  std::string reason;                        // for rejected / retry / failed
  std::chrono::milliseconds retry_after{0};  // a hint for retry; 0 = the bus's backoff
  std::optional<std::string> body;           // a reply body (queries); sent back to the requester
  std::vector<Message> emits;  // published through the routed transport before the ack

  static Outcome ok() { return {}; }
  static Outcome with_body(std::string b) {
    Outcome o;
    o.body = std::move(b);
    return o;
  }
  static Outcome duplicate() { return {OutcomeKind::duplicate, {}, {}, {}, {}}; }
  static Outcome rejected(std::string why) {
    return {OutcomeKind::rejected, std::move(why), {}, {}, {}};
  }
  static Outcome retry(std::string why, std::chrono::milliseconds after = {}) {
    return {OutcomeKind::retry, std::move(why), after, {}, {}};
  }
  static Outcome failed(std::string why) {
    return {OutcomeKind::failed, std::move(why), {}, {}, {}};
  }
};

inline const char* to_string(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::handled: return "handled";
    case OutcomeKind::duplicate: return "duplicate";
    case OutcomeKind::rejected: return "rejected";
    case OutcomeKind::retry: return "retry";
    case OutcomeKind::failed: return "failed";
  }
  return "unknown";
}

// What a transport tells the requester once a message's outcome is final.
struct Reply {
  std::string status;  // "ok", "duplicate", "dead-letter", "error"
  std::string detail;
  std::optional<std::string> body;
};

}  // namespace sidecar
