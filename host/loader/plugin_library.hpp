#pragma once
// A loaded plugin file. The manifest is read and checked before any C++ type of the plugin is
// touched; objects the plugin makes hold a shared_ptr to their library so it is never unloaded
// while they live (Boost.DLL's "Missuses" page).
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sidecar/handler.hpp"
#include "sidecar/manifest.hpp"
#include "sidecar/options.hpp"
#include "sidecar/transport.hpp"

namespace boost::dll {
class shared_library;
}

namespace sidecar::host {

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PluginLibrary {
 public:
  // Throws PluginError naming the file: missing, not a shared library, no manifest, another ABI.
  static std::shared_ptr<PluginLibrary> load(const std::string& path);
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  [[nodiscard]] PluginKind kind() const { return kind_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& version() const { return version_; }
  [[nodiscard]] const std::string& description() const { return description_; }
  [[nodiscard]] const std::string& build_tag() const { return build_tag_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const std::vector<OptionSpec>& option_specs() const { return specs_; }

  // Never throw: the factory reports failures in Made::error.
  Made<Transport> create_transport(const Options& options) const;
  Made<Handler> create_handler(const Options& options) const;

 private:
  PluginLibrary() = default;
  std::unique_ptr<boost::dll::shared_library> lib_;
  PluginKind kind_ = PluginKind::handler;
  std::string name_, version_, description_, build_tag_, path_;
  std::vector<OptionSpec> specs_;
};

// An object made by a plugin, with the library it came from. Member order matters: the object
// is destroyed before the library handle is released.
template <class Interface>
struct PluginInstance {
  std::shared_ptr<PluginLibrary> library;
  std::unique_ptr<Interface> object;
  std::string name;  // instance name in the config
};

// "zeromq" -> <plugin_dir>/zeromq.so; a name with a '/' or ending in ".so" is a path.
std::string plugin_path(const std::string& plugin_dir, const std::string& plugin);
// Every *.so in the directory, sorted.
std::vector<std::string> list_plugin_files(const std::string& plugin_dir);
// The default plugin directory: ../plugins next to the running executable.
std::string default_plugin_dir();

}  // namespace sidecar::host
