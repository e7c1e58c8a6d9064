#include <gtest/gtest.h>

#include <string>

#include "inventory/events.hpp"
#include "inventory/sha1.hpp"
#include "inventory/uuid.hpp"

namespace sidecar::inventory {
namespace {

std::string hex(const Sha1Digest& d) {
  std::string out;
  for (auto b : d) {
    out.push_back("0123456789abcdef"[b >> 4]);
    out.push_back("0123456789abcdef"[b & 15]);
  }
  return out;
}

// FIPS 180-2 appendix A and the usual extra vectors (padding edges at 55, 56 and 64 bytes).
TEST(Sha1, KnownVectors) {
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(hex(sha1("The quick brown fox jumps over the lazy dog")),
            "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  EXPECT_EQ(hex(sha1(std::string(1'000'000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  EXPECT_EQ(hex(sha1(std::string(55, 'a'))), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  EXPECT_EQ(hex(sha1(std::string(56, 'a'))), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  EXPECT_EQ(hex(sha1(std::string(64, 'a'))), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

TEST(Uuid, CanonicalForm) {
  EXPECT_EQ(canonical_uuid("6BA7B810-9DAD-11D1-80B4-00C04FD430C8"),
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  EXPECT_FALSE(canonical_uuid(""));
  EXPECT_FALSE(canonical_uuid("6ba7b8109dad11d180b400c04fd430c8"));
  EXPECT_FALSE(canonical_uuid("{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"));
  EXPECT_FALSE(canonical_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430cg"));
  EXPECT_FALSE(canonical_uuid("6ba7b810-9dad-11d1-80b4+00c04fd430c8"));
}

// RFC 4122 DNS namespace; the same value as Python's uuid.uuid5(uuid.NAMESPACE_DNS, "python.org").
TEST(Uuid, Version5Vector) {
  EXPECT_EQ(uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

TEST(Uuid, EventKeyIsStableAndDistinct) {
  std::string source = "2f1b7c1e-8a4d-4f7e-9c1a-0d3e5f6a7b8c";
  EXPECT_EQ(event_key(source, "inventory.CREATED"), event_key(source, "inventory.CREATED"));
  EXPECT_NE(event_key(source, "inventory.CREATED"), event_key(source, "inventory.FAILED"));
  auto k = event_key(source, "inventory.CREATED");
  EXPECT_TRUE(canonical_uuid(k));
  EXPECT_EQ(k[14], '5');
}

TEST(Events, PayloadShape) {
  auto e = inventory_event("inventory", "886313e1-3b8a-5372-9b90-0c9aee199e5d", 111, "FAILED",
                           "no_items");
  EXPECT_EQ(e.topic, "inventory");
  EXPECT_EQ(e.key, "111");
  EXPECT_EQ(e.payload, R"({"idempotent_key":"886313e1-3b8a-5372-9b90-0c9aee199e5d","order_id":111,)"
                       R"("status":"FAILED","reason":"no_items"})");
  auto ok = inventory_event("inventory", "886313e1-3b8a-5372-9b90-0c9aee199e5d", 7, "CREATED", "");
  EXPECT_EQ(ok.payload.find("reason"), std::string::npos);
}

}  // namespace
}  // namespace sidecar::inventory
