#include "loader/plugin_library.hpp"

#include <gtest/gtest.h>

using namespace sidecar;
using namespace sidecar::host;

namespace {
std::string fixture(const std::string& name) {
  return std::string(SIDECAR_TEST_PLUGIN_DIR) + "/" + name;
}

std::string load_error(const std::string& path) {
  try {
    PluginLibrary::load(path);
    return "";
  } catch (const PluginError& e) {
    return e.what();
  }
}
}  // namespace

TEST(Loader, LoadsAValidPluginAndReadsItsManifest) {
  auto lib = PluginLibrary::load(fixture("fixture-good.so"));
  EXPECT_EQ(lib->name(), "fixture-good");
  EXPECT_EQ(lib->version(), "1.2.3");
  EXPECT_EQ(lib->kind(), PluginKind::handler);
  EXPECT_EQ(lib->build_tag(), SIDECAR_BUILD_TAG);
  ASSERT_EQ(lib->option_specs().size(), 4u);
  EXPECT_EQ(lib->option_specs()[0].name, "to");
  Options o;
  o.set("to", std::string("x"));
  auto made = lib->create_handler(o);
  ASSERT_TRUE(made.object) << made.error;
  auto wrong = lib->create_transport(o);
  EXPECT_FALSE(wrong.object);
  EXPECT_NE(wrong.error.find("is not a transport"), std::string::npos);
  made.object.reset();  // objects before their library
}

TEST(Loader, MissingFile) {
  EXPECT_EQ(load_error(fixture("nope.so")), "plugin file not found: " + fixture("nope.so"));
}

TEST(Loader, NotASharedLibrary) {
  EXPECT_EQ(load_error(fixture("fixture-not-elf.so")),
            "not a shared library: " + fixture("fixture-not-elf.so"));
}

TEST(Loader, NoManifest) {
  auto err = load_error(fixture("fixture-no-manifest.so"));
  EXPECT_NE(err.find("not a sidecar plugin (no sidecar_manifest manifest)"), std::string::npos)
      << err;
}

TEST(Loader, OtherAbiVersionIsRefusedByNameWithBothVersions) {
  auto err = load_error(fixture("fixture-old-abi.so"));
  EXPECT_NE(err.find("plugin \"fixture-old-abi\""), std::string::npos) << err;
  EXPECT_NE(
      err.find("SDK ABI version 999, but this host has ABI version " + std::to_string(kAbiVersion)),
      std::string::npos)
      << err;
}

TEST(Loader, ThrowingConstructorBecomesAnError) {
  auto lib = PluginLibrary::load(fixture("fixture-throwing.so"));
  auto made = lib->create_handler(Options{});
  EXPECT_FALSE(made.object);
  EXPECT_EQ(made.error, "cannot reach the moon");
}

TEST(Loader, PluginPathResolution) {
  EXPECT_EQ(plugin_path("/p", "zeromq"), "/p/zeromq.so");
  EXPECT_EQ(plugin_path("/p", "./x/y.so"), "./x/y.so");
  EXPECT_EQ(plugin_path("/p", "custom.so"), "custom.so");
}
