#include <gtest/gtest.h>

#include "inventory/redis_dedupe.hpp"

namespace sidecar::inventory {
namespace {

TEST(RedisUrl, Parses) {
  auto a = parse_redis_url("redis://127.0.0.1:56440/3");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 56440);
  EXPECT_EQ(a->db, 3);
  auto b = parse_redis_url("redis://:secret@cache");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "cache");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->password, "secret");
}

TEST(RedisUrl, Refuses) {
  EXPECT_FALSE(parse_redis_url("http://x:1"));
  EXPECT_FALSE(parse_redis_url("redis://"));
  EXPECT_FALSE(parse_redis_url("redis://h:99999"));
  EXPECT_FALSE(parse_redis_url("redis://h:1/x"));
  EXPECT_THROW(RedisDedupe("nonsense", std::chrono::hours(1), nullptr), std::invalid_argument);
}

TEST(RedisDedupe, DisabledAnswersNotSeen) {
  RedisDedupe r("", std::chrono::hours(1), nullptr);
  EXPECT_FALSE(r.enabled());
  EXPECT_EQ(r.seen({"a", "b"}), (std::vector<bool>{false, false}));
  r.remember({"a"});
}

}  // namespace
}  // namespace sidecar::inventory
