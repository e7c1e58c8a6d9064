#pragma once
// Counters, gauges and one latency histogram per handler, rendered as Prometheus text. Hot paths
// resolve a series once and keep the pointer; updates are then lock-free atomics.
#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "sidecar/host_services.hpp"

namespace sidecar::host {

class Series {
 public:
  void add(double v) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
  }
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  [[nodiscard]] double get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.05,   0.1,   0.5,    1.0};
  // `n` observations of the same value (a batch shares its handler call).
  void observe(double seconds, std::uint64_t n = 1);
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  Series sum_;
};

class Metrics {
 public:
  Series& counter(std::string_view name, const Labels& labels = {});
  Series& gauge(std::string_view name, const Labels& labels = {});
  Histogram& histogram(std::string_view name, const Labels& labels = {});
  [[nodiscard]] std::string render() const;
  // For tests and the CLI: the current value of a series, 0 when absent.
  [[nodiscard]] double value(std::string_view name, const Labels& labels = {}) const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Family {
    Type type;
    std::map<std::string, Series*> series;  // rendered labels -> series
    std::map<std::string, Histogram*> histograms;
  };
  Family& family(std::string_view name, Type type);
  Series& series(std::string_view name, Type type, const Labels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::deque<Series> series_store_;  // stable addresses
  std::deque<Histogram> histogram_store_;
};

std::string render_labels(const Labels& labels);

}  // namespace sidecar::host
