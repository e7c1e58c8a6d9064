#include "admin/metrics.hpp"

#include <gtest/gtest.h>

using sidecar::host::Metrics;

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.counter("sidecar_messages_in_total", {{"topic", "order"}}).add(3);
  m.gauge("sidecar_outbox_backlog").set(7);
  m.histogram("sidecar_handler_duration_seconds", {{"handler", "h"}}).observe(0.002);
  auto text = m.render();
  EXPECT_NE(text.find("# TYPE sidecar_messages_in_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sidecar_messages_in_total{topic=\"order\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sidecar_outbox_backlog 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sidecar_handler_duration_seconds_bucket{handler=\"h\",le=\"0.001\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sidecar_handler_duration_seconds_bucket{handler=\"h\",le=\"0.0025\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sidecar_handler_duration_seconds_count{handler=\"h\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(m.value("sidecar_messages_in_total", {{"topic", "order"}}), 3);
}

TEST(Metrics, SameSeriesIsTheSameObject) {
  Metrics m;
  auto& a = m.counter("c", {{"k", "v"}});
  auto& b = m.counter("c", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
}
