#include "envelope_table.hpp"

#include <limits>
#include <stdexcept>

namespace sidecar::zeromq {

std::uint64_t EnvelopeTable::insert(std::string_view routing_id, bool delimiter) {
  std::uint32_t index = 0;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() >= std::numeric_limits<std::uint32_t>::max()) {
      throw std::length_error("zeromq: too many requests awaiting a reply");
    }
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
    // Reserve the free list's room now, so release() never allocates.
    free_.reserve(slots_.capacity());
  }
  Slot& slot = slots_[index];
  slot.envelope.routing_id.assign(routing_id.data(), routing_id.size());
  slot.envelope.delimiter = delimiter;
  if (++slot.generation == 0) slot.generation = 1;  // keeps every tag non-zero
  slot.used = true;
  ++used_;
  return (static_cast<std::uint64_t>(slot.generation) << 32) | index;
}

const EnvelopeTable::Slot* EnvelopeTable::slot_for(std::uint64_t tag) const noexcept {
  auto index = static_cast<std::uint32_t>(tag & 0xffffffffu);
  auto generation = static_cast<std::uint32_t>(tag >> 32);
  if (index >= slots_.size()) return nullptr;
  const Slot& slot = slots_[index];
  if (!slot.used || slot.generation != generation) return nullptr;
  return &slot;
}

const Envelope* EnvelopeTable::find(std::uint64_t tag) const noexcept {
  const Slot* slot = slot_for(tag);
  return slot ? &slot->envelope : nullptr;
}

void EnvelopeTable::release(std::uint64_t tag) noexcept {
  const Slot* found = slot_for(tag);
  if (!found) return;
  auto index = static_cast<std::uint32_t>(tag & 0xffffffffu);
  slots_[index].used = false;
  free_.push_back(index);  // capacity reserved in insert()
  --used_;
}

}  // namespace sidecar::zeromq
