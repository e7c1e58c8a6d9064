#include "admin/metrics.hpp"

#include <fmt/format.h>

namespace sidecar::host {

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

void Histogram::observe(double seconds, std::uint64_t n) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(n, std::memory_order_relaxed);
  count_.fetch_add(n, std::memory_order_relaxed);
  sum_.add(seconds * static_cast<double>(n));
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  // Labels come rendered as {a="b"}; the le label joins them.
  std::string inner = labels.empty() ? "" : labels.substr(1, labels.size() - 2) + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, inner, kBounds[i], cumulative);
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, inner, cumulative);
  out += fmt::format("{}_sum{} {}\n", name, labels, sum_.get());
  out += fmt::format("{}_count{} {}\n", name, labels, count_.load(std::memory_order_relaxed));
}

Metrics::Family& Metrics::family(std::string_view name, Type type) {
  auto [it, inserted] = families_.try_emplace(std::string(name));
  if (inserted) it->second.type = type;
  return it->second;
}

Series& Metrics::series(std::string_view name, Type type, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = family(name, type);
  auto key = render_labels(labels);
  auto it = f.series.find(key);
  if (it != f.series.end()) return *it->second;
  Series* s = &series_store_.emplace_back();
  f.series.emplace(key, s);
  return *s;
}

Series& Metrics::counter(std::string_view name, const Labels& labels) {
  return series(name, Type::counter, labels);
}

Series& Metrics::gauge(std::string_view name, const Labels& labels) {
  return series(name, Type::gauge, labels);
}

Histogram& Metrics::histogram(std::string_view name, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = family(name, Type::histogram);
  auto key = render_labels(labels);
  auto it = f.histograms.find(key);
  if (it != f.histograms.end()) return *it->second;
  Histogram* h = &histogram_store_.emplace_back();
  f.histograms.emplace(key, h);
  return *h;
}

double Metrics::value(std::string_view name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(std::string(name));
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(render_labels(labels));
  return s == it->second.series.end() ? 0 : s->second->get();
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::counter ? "counter"
                       : f.type == Type::gauge ? "gauge"
                                               : "histogram";
    out += fmt::format("# TYPE {} {}\n", name, type);
    for (const auto& [labels, s] : f.series)
      out += fmt::format("{}{} {}\n", name, labels, s->get());
    for (const auto& [labels, h] : f.histograms) h->render(out, name, labels);
  }
  return out;
}

}  // namespace sidecar::host
