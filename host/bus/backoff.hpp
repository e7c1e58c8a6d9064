#pragma once
#include <algorithm>
#include <chrono>
#include <random>

namespace sidecar::host {

// Exponential backoff with a cap and "equal jitter": half fixed, half random, so retries of many
// messages after one outage do not arrive in lockstep.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max) {}

  std::chrono::milliseconds next() {
    auto base = initial_.count() << std::min(attempt_, 20);
    base = std::min<long long>(base, max_.count());
    ++attempt_;
    if (base <= 1) return std::chrono::milliseconds{base};
    std::uniform_int_distribution<long long> dist(0, base / 2);
    return std::chrono::milliseconds{base - base / 2 + dist(rng())};
  }
  void reset() { attempt_ = 0; }
  [[nodiscard]] int attempts() const { return attempt_; }

 private:
  // One generator per thread, seeded once: a Backoff is made for every publish, and seeding
  // from std::random_device each time costs a system call.
  static std::minstd_rand& rng() {
    thread_local std::minstd_rand gen{std::random_device{}()};
    return gen;
  }
  std::chrono::milliseconds initial_, max_;
  int attempt_ = 0;
};

}  // namespace sidecar::host
