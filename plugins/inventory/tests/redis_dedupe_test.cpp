#include <gtest/gtest.h>

#include "inventory/redis_dedupe.hpp"
#include "sidecar/testkit.hpp"
#include "testdb.hpp"

namespace sidecar::inventory {
namespace {

using namespace sidecar::inventory::testing;

TEST(RedisDedupeLive, RemembersAfterCommitOnly) {
  std::string url = require_env("REDIS_URL");
  ASSERT_FALSE(url.empty());
  testkit::Host host;
  RedisDedupe r(url, std::chrono::seconds(60), &host);
  r.set_namespace(random_uuid());
  std::string a = random_uuid(), b = random_uuid();
  EXPECT_EQ(r.seen({a, b}), (std::vector<bool>{false, false}));
  r.remember({a});
  EXPECT_EQ(r.seen({a, b}), (std::vector<bool>{true, false}));
}

TEST(RedisDedupeLive, NamespacesKeepDatabasesApart) {
  std::string url = require_env("REDIS_URL");
  ASSERT_FALSE(url.empty());
  testkit::Host host;
  RedisDedupe first(url, std::chrono::seconds(60), &host);
  RedisDedupe second(url, std::chrono::seconds(60), &host);
  std::string a = random_uuid();
  first.set_namespace(random_uuid());
  EXPECT_EQ(first.seen({a}), std::vector<bool>{false});
  first.remember({a});
  EXPECT_EQ(first.seen({a}), std::vector<bool>{true});
  second.set_namespace(random_uuid());
  EXPECT_EQ(second.seen({a}), std::vector<bool>{false});
}

TEST(RedisDedupeLive, DownIsNotAnError) {
  testkit::Host host;
  RedisDedupe r(unused_redis_url(), std::chrono::seconds(60), &host);
  r.set_namespace(random_uuid());
  std::string a = random_uuid();
  r.remember({a});
  EXPECT_EQ(r.seen({a}), std::vector<bool>{false});
  // Backing off: the next calls do not even try, and say nothing new.
  auto logs = host.logs.size();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.seen({a}), std::vector<bool>{false});
  EXPECT_EQ(host.logs.size(), logs);
}

}  // namespace
}  // namespace sidecar::inventory
