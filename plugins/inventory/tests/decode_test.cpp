#include <gtest/gtest.h>

#include <string>

#include "inventory/decode.hpp"

namespace sidecar::inventory {
namespace {

constexpr std::size_t kMax = 1 << 20;
const std::string kKey = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

std::string code_of(const Rejection* r) {
  if (r == nullptr) return "accepted";
  return r->reason.substr(0, r->reason.find(':'));
}

std::string order_reason(const std::string& payload, std::size_t max = kMax) {
  auto d = decode_order(payload, max);
  return code_of(rejection(d));
}

std::string with(const std::string& fields) {
  return R"({"idempotent_key":")" + kKey + R"(","status":"CREATED")" + fields + "}";
}

TEST(DecodeOrder, Accepts) {
  auto d = decode_order(with(R"(,"order_id":111,"extra":{"x":[1]})"), kMax);
  ASSERT_FALSE(rejection(d));
  const auto& o = std::get<OrderCreated>(d);
  EXPECT_EQ(o.idempotent_key, kKey);
  EXPECT_EQ(o.order_id, 111);
  EXPECT_FALSE(o.items);

  auto upper = decode_order(R"({"idempotent_key":"6BA7B810-9DAD-11D1-80B4-00C04FD430C8",)"
                            R"("order_id":9223372036854775807,"status":"CREATED","items":)"
                            R"([{"product_id":1,"count":2},{"product_id":3,"count":1}]})",
                            kMax);
  ASSERT_FALSE(rejection(upper));
  const auto& u = std::get<OrderCreated>(upper);
  EXPECT_EQ(u.idempotent_key, kKey);
  EXPECT_EQ(u.order_id, INT64_MAX);
  ASSERT_TRUE(u.items);
  ASSERT_EQ(u.items->size(), 2u);
  EXPECT_EQ((*u.items)[1].product_id, 3);

  auto null_items = decode_order(with(R"(,"order_id":1,"items":null)"), kMax);
  ASSERT_FALSE(rejection(null_items));
  EXPECT_FALSE(std::get<OrderCreated>(null_items).items);
  auto empty = decode_order(with(R"(,"order_id":1,"items":[])"), kMax);
  ASSERT_FALSE(rejection(empty));
  EXPECT_TRUE(std::get<OrderCreated>(empty).items->empty());
}

TEST(DecodeOrder, RefusesEachBadInput) {
  EXPECT_EQ(order_reason("not json"), "not_json");
  EXPECT_EQ(order_reason(""), "not_json");
  EXPECT_EQ(order_reason(R"({"a":)"), "not_json");
  EXPECT_EQ(order_reason("[1,2]"), "not_object");
  EXPECT_EQ(order_reason("42"), "not_object");
  EXPECT_EQ(order_reason(R"({"order_id":1,"status":"CREATED"})"), "idempotent_key_missing");
  EXPECT_EQ(order_reason(R"({"idempotent_key":"abc","order_id":1,"status":"CREATED"})"),
            "idempotent_key_invalid");
  EXPECT_EQ(order_reason(R"({"idempotent_key":17,"order_id":1,"status":"CREATED"})"),
            "idempotent_key_invalid");
  EXPECT_EQ(order_reason(with("")), "order_id_missing");
  EXPECT_EQ(order_reason(with(R"(,"order_id":0)")), "order_id_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":-5)")), "order_id_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":"111")")), "order_id_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1.5)")), "order_id_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":111.0)")), "order_id_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":true)")), "order_id_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":9223372036854775808)")), "order_id_out_of_range");
  EXPECT_EQ(order_reason(with(R"(,"order_id":18446744073709551616)")), "order_id_out_of_range");
  EXPECT_EQ(order_reason(with(R"(,"order_id":123456789012345678901234567890)")),
            "order_id_out_of_range");
  EXPECT_EQ(order_reason(R"({"idempotent_key":")" + kKey + R"(","order_id":1})"), "status_missing");
  EXPECT_EQ(order_reason(R"({"idempotent_key":")" + kKey + R"(","order_id":1,"status":"SHIPPED"})"),
            "status_unknown");
  EXPECT_EQ(order_reason(R"({"idempotent_key":")" + kKey + R"(","order_id":1,"status":1})"),
            "status_unknown");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":{})")), "items_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":[1])")), "items_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":[{"count":1}])")), "items_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":[{"product_id":"1","count":1}])")),
            "items_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":[{"product_id":1,"count":0}])")),
            "item_count_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":[{"product_id":1,"count":-2}])")),
            "item_count_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":[{"product_id":1,"count":2.5}])")),
            "item_count_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":[{"product_id":1,"count":4294967296}])")),
            "item_count_invalid");
  EXPECT_EQ(order_reason(with(R"(,"order_id":1,"items":[{"product_id":1,"count":1},)"
                              R"({"product_id":1,"count":2}])")),
            "items_duplicate_product");
}

TEST(DecodeOrder, SizeLimitBeforeParsing) {
  std::string big = with(R"(,"order_id":1,"pad":")" + std::string(200, 'x') + "\"");
  EXPECT_EQ(order_reason(big, 100), "too_large");
  EXPECT_EQ(order_reason(big, big.size()), "accepted");
}

TEST(DecodePayment, StatusesAndErrors) {
  auto ok = decode_payment(R"({"idempotent_key":")" + kKey + R"(","order_id":5,"status":"FAILED"})",
                           kMax);
  ASSERT_FALSE(rejection(ok));
  EXPECT_EQ(std::get<PaymentResult>(ok).status, PaymentStatus::failed);
  auto done = decode_payment(
      R"({"idempotent_key":")" + kKey + R"(","order_id":5,"status":"COMPLETED"})", kMax);
  EXPECT_EQ(std::get<PaymentResult>(done).status, PaymentStatus::completed);
  auto bad = decode_payment(
      R"({"idempotent_key":")" + kKey + R"(","order_id":5,"status":"CREATED"})", kMax);
  EXPECT_EQ(code_of(rejection(bad)), "status_unknown");
}

TEST(DecodeQuery, IdsOrAll) {
  auto all = decode_query("{}", kMax);
  ASSERT_FALSE(rejection(all));
  EXPECT_FALSE(std::get<ProductQuery>(all).ids);
  auto some = decode_query(R"({"ids":[2,1]})", kMax);
  EXPECT_EQ(*std::get<ProductQuery>(some).ids, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(code_of(rejection(decode_query(R"({"ids":"1"})", kMax))), "ids_invalid");
  EXPECT_EQ(code_of(rejection(decode_query(R"({"ids":[1.5]})", kMax))), "ids_invalid");
  EXPECT_EQ(code_of(rejection(decode_query("[]", kMax))), "not_object");
}

TEST(Decode, InvalidUtf8AndDeepNestingDoNotCrash) {
  EXPECT_EQ(order_reason("{\"idempotent_key\":\"\xff\xfe\"}"), "not_json");
  std::string deep(100'000, '[');
  EXPECT_EQ(order_reason(deep), "not_json");
  std::string deep_ok =
      with(R"(,"order_id":1,"x":)" + std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_EQ(order_reason(deep_ok), "accepted");
}

}  // namespace
}  // namespace sidecar::inventory
