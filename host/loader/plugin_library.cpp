#include "loader/plugin_library.hpp"

#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace sidecar::host {

namespace fs = std::filesystem;

namespace {

using OptionsFn = std::vector<OptionSpec>();
using CreateTransportFn = Made<Transport>(const Options&) noexcept;
using CreateHandlerFn = Made<Handler>(const Options&) noexcept;

bool looks_like_elf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' &&
         magic[3] == 'F';
}

}  // namespace

PluginLibrary::~PluginLibrary() = default;

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw PluginError("plugin file not found: " + path);
  if (!fs::is_regular_file(path, ec)) throw PluginError("plugin path is not a file: " + path);
  if (!looks_like_elf(path)) throw PluginError("not a shared library: " + path);

  std::shared_ptr<PluginLibrary> p(new PluginLibrary());
  p->path_ = path;
  try {
    p->lib_ = std::make_unique<boost::dll::shared_library>(
        path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw PluginError("cannot load plugin " + path + ": " + e.what());
  }
  if (!p->lib_->has(kManifestSymbol)) {
    throw PluginError("not a sidecar plugin (no " + std::string(kManifestSymbol) +
                      " manifest): " + path);
  }
  const auto& m = p->lib_->get_alias<const sidecar_manifest_v1>(kManifestSymbol);
  auto text = [](const char* s) { return std::string(s ? s : ""); };
  p->name_ = text(m.name);
  p->version_ = text(m.version);
  p->build_tag_ = text(m.build_tag);
  p->description_ = text(m.description);
  if (m.abi_version != kAbiVersion) {
    throw PluginError("plugin \"" + p->name_ + "\" (" + path + ") was built for SDK ABI version " +
                      std::to_string(m.abi_version) + ", but this host has ABI version " +
                      std::to_string(kAbiVersion) + ": rebuild it against this SDK");
  }
  if (p->build_tag_ != SIDECAR_BUILD_TAG) {
    throw PluginError("plugin \"" + p->name_ + "\" (" + path + ") was built as \"" + p->build_tag_ +
                      "\", but this host is \"" SIDECAR_BUILD_TAG
                      "\": rebuild it against this SDK");
  }
  if (m.kind != static_cast<std::uint32_t>(PluginKind::transport) &&
      m.kind != static_cast<std::uint32_t>(PluginKind::handler)) {
    throw PluginError("plugin \"" + p->name_ + "\" (" + path + ") declares an unknown kind " +
                      std::to_string(m.kind));
  }
  p->kind_ = static_cast<PluginKind>(m.kind);
  for (const char* sym : {kOptionsSymbol, kCreateSymbol}) {
    if (!p->lib_->has(sym)) {
      throw PluginError("plugin \"" + p->name_ + "\" (" + path + ") lacks the symbol " + sym);
    }
  }
  try {
    p->specs_ = p->lib_->get_alias<OptionsFn>(kOptionsSymbol)();
  } catch (const std::exception& e) {
    throw PluginError("plugin \"" + p->name_ + "\" failed to declare its options: " + e.what());
  }
  return p;
}

Made<Transport> PluginLibrary::create_transport(const Options& options) const {
  if (kind_ != PluginKind::transport)
    return {nullptr, "plugin \"" + name_ + "\" is not a transport"};
  return lib_->get_alias<CreateTransportFn>(kCreateSymbol)(options);
}

Made<Handler> PluginLibrary::create_handler(const Options& options) const {
  if (kind_ != PluginKind::handler) return {nullptr, "plugin \"" + name_ + "\" is not a handler"};
  return lib_->get_alias<CreateHandlerFn>(kCreateSymbol)(options);
}

std::string plugin_path(const std::string& plugin_dir, const std::string& plugin) {
  if (plugin.find('/') != std::string::npos ||
      (plugin.size() > 3 && plugin.compare(plugin.size() - 3, 3, ".so") == 0)) {
    return plugin;
  }
  return (fs::path(plugin_dir) / (plugin + ".so")).string();
}

std::vector<std::string> list_plugin_files(const std::string& plugin_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(plugin_dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".so") {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string default_plugin_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "plugins";
  // In a build tree: build/bin/sidecar -> build/plugins; installed: bin/ -> lib/sidecar/plugins.
  auto prefix = exe.parent_path().parent_path();
  if (fs::is_directory(prefix / "plugins", ec)) return (prefix / "plugins").string();
  return (prefix / "lib" / "sidecar" / "plugins").string();
}

}  // namespace sidecar::host
