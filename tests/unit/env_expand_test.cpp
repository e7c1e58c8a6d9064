#include "config/env_expand.hpp"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

using sidecar::host::expand_env;

namespace {
std::optional<std::string> from(const std::map<std::string, std::string>& env,
                                const std::string& k) {
  auto it = env.find(k);
  if (it == env.end()) return std::nullopt;
  return it->second;
}
}  // namespace

TEST(EnvExpand, ReplacesSetVariables) {
  std::map<std::string, std::string> env{{"HOST", "db"}, {"PORT", "5432"}};
  auto look = [&](const std::string& k) { return from(env, k); };
  EXPECT_EQ(expand_env("postgres://${HOST}:${PORT}/x", look), "postgres://db:5432/x");
}

TEST(EnvExpand, UsesDefaultWhenUnsetOrEmpty) {
  std::map<std::string, std::string> env{{"EMPTY", ""}};
  auto look = [&](const std::string& k) { return from(env, k); };
  EXPECT_EQ(expand_env("${MISSING:-tcp://127.0.0.1:5555}", look), "tcp://127.0.0.1:5555");
  EXPECT_EQ(expand_env("${EMPTY:-fallback}", look), "fallback");
  EXPECT_EQ(expand_env("${MISSING:-}", look), "");
}

TEST(EnvExpand, UndefinedWithoutDefaultNamesTheVariable) {
  auto look = [](const std::string&) { return std::optional<std::string>{}; };
  try {
    expand_env("a ${NOPE} b", look);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("${NOPE}"), std::string::npos) << e.what();
  }
}

TEST(EnvExpand, KeepsDollarsThatAreNotVariables) {
  auto look = [](const std::string&) { return std::optional<std::string>{}; };
  EXPECT_EQ(expand_env("cost $5 and $$HOME", look), "cost $5 and $HOME");
  EXPECT_THROW(expand_env("${UNCLOSED", look), std::invalid_argument);
}
