#pragma once
// Maps a delivery tag back to the ROUTER envelope of the request it came from, so an ack can be
// routed to the right client. Owned by the I/O thread only. Slots are reused, so once warmed up a
// request costs no allocation here; a tag carries its slot's generation, so a stale or repeated
// ack never reaches the wrong client.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::zeromq {

struct Envelope {
  std::string routing_id;
  bool delimiter = false;  // a REQ client sent an empty frame after its id; its reply needs one
};

class EnvelopeTable {
 public:
  // The new entry's delivery tag, never 0.
  std::uint64_t insert(std::string_view routing_id, bool delimiter);
  // nullptr when the tag is unknown or already released.
  [[nodiscard]] const Envelope* find(std::uint64_t tag) const noexcept;
  void release(std::uint64_t tag) noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return used_; }

 private:
  struct Slot {
    Envelope envelope;
    std::uint32_t generation = 0;
    bool used = false;
  };
  [[nodiscard]] const Slot* slot_for(std::uint64_t tag) const noexcept;

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t used_ = 0;
};

}  // namespace sidecar::zeromq
