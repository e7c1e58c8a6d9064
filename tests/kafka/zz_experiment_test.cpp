#include <fmt/format.h>
#include <gtest/gtest.h>
#include <cstdlib>
#include "kafka_fixture.hpp"
using namespace std::chrono_literals;
namespace sidecar::test::kafka {
TEST_F(KafkaPipeline, ZzRate) {
  int n = std::atoi(std::getenv("EXP_N"));
  EchoSetup s = fresh_setup();
  int q = std::atoi(std::getenv("EXP_Q")), l = std::atoi(std::getenv("EXP_L"));
  if (l > 0) throttle(s, q, l); else s.queue_capacity = q;
  s.batch_size = std::atoi(std::getenv("EXP_B"));
  if (const char* kv = std::getenv("EXP_P")) {
    std::string all = kv;
    size_t pos = 0;
    while (pos < all.size()) {
      auto comma = all.find(',', pos);
      if (comma == std::string::npos) comma = all.size();
      auto item = all.substr(pos, comma - pos);
      auto eq = item.find('=');
      s.librdkafka[item.substr(0, eq)] = item.substr(eq + 1);
      pos = comma + 1;
    }
  }
  client_->create_topic(s.in, 4);
  client_->create_topic(s.out, 4);
  client_->create_topic(s.dlq, 1);
  produce_orders(*client_, s.in, n, 500);
  SidecarProcess proc(s.yaml());
  proc.start();
  ASSERT_TRUE(proc.wait_ready());
  eventually([&] { return client_->total(s.out, 4) > 0; }, 30s, 5ms);
  auto t0 = std::chrono::steady_clock::now();
  eventually([&] { return client_->total(s.out, 4) >= n; }, 120s, 20ms);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("n={} q={} linger={} batch={}: {:.2f}s {:.0f}/s\n", n, q, l, s.batch_size, secs, n / secs);
  proc.terminate();
}
}
