#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "product_query.hpp"
#include "sidecar/testkit.hpp"
#include "testdb.hpp"

namespace sidecar::product_query {
namespace {

using namespace sidecar::inventory::testing;

class QueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dsn_ = fresh_database("sidecar_test_product_query"); }
  void SetUp() override {
    ASSERT_FALSE(dsn_.empty());
    truncate_all(dsn_);
    load_products(dsn_, {{3, "monitor", 5}, {1, "keyboard \"pro\"", 8}, {2, "mouse", 0}});
    h_ = std::make_unique<ProductQuery>(
        testkit::Host::options_for(ProductQuery::option_specs(), {{"pg_dsn", dsn_}}));
    ASSERT_TRUE(host_.start(*h_));
  }
  Outcome ask(const std::string& payload) {
    return host_.handle(*h_, {testkit::message("products", "", payload)})[0];
  }
  static std::string dsn_;
  testkit::Host host_;
  std::unique_ptr<ProductQuery> h_;
};
std::string QueryTest::dsn_;

TEST_F(QueryTest, AllProductsById) {
  auto o = ask("{}");
  ASSERT_EQ(o.kind, OutcomeKind::handled) << o.reason;
  ASSERT_TRUE(o.body);
  EXPECT_EQ(*o.body, R"({"products":[{"id":1,"name":"keyboard \"pro\"","count":8},)"
                     R"({"id":2,"name":"mouse","count":0},{"id":3,"name":"monitor","count":5}]})");
}

TEST_F(QueryTest, SomeProducts) {
  auto o = ask(R"({"ids":[3,1,99],"extra":true})");
  ASSERT_TRUE(o.body);
  auto j = nlohmann::json::parse(*o.body);
  ASSERT_EQ(j["products"].size(), 2u);
  EXPECT_EQ(j["products"][0]["id"], 1);
  EXPECT_EQ(j["products"][1]["count"], 5);
  EXPECT_EQ(*ask(R"({"ids":[]})").body, R"({"products":[]})");
}

TEST_F(QueryTest, BadQueriesAreRejected) {
  for (std::string bad : {"x", "[1]", R"({"ids":"1"})", R"({"ids":[1,"2"]})", R"({"ids":[1.5]})"}) {
    auto o = ask(bad);
    EXPECT_EQ(o.kind, OutcomeKind::rejected) << bad;
    EXPECT_FALSE(o.body);
  }
  EXPECT_EQ(ask("{}").kind, OutcomeKind::handled);
}

TEST_F(QueryTest, BatchAnswersEachInOrder) {
  auto out = host_.handle(*h_, {testkit::message("products", "", R"({"ids":[2]})"),
                                testkit::message("products", "", "nope"),
                                testkit::message("products", "", R"({"ids":[3]})")});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_NE(out[0].body->find("mouse"), std::string::npos);
  EXPECT_EQ(out[1].kind, OutcomeKind::rejected);
  EXPECT_NE(out[2].body->find("monitor"), std::string::npos);
}

}  // namespace
}  // namespace sidecar::product_query
