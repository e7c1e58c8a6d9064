#pragma once
// Applies the numbered SQL files of a directory (0001_name.sql, ...) in order, each once and in
// its own transaction, recording them in schema_migrations. An advisory lock makes two sidecars
// migrating one database at once take turns; the second finds nothing left to do.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sidecar {
class HostServices;
}

namespace sidecar::inventory {

struct MigrationFile {
  std::int64_t version = 0;
  std::string name;  // the file name without ".sql", e.g. "0001_inventory"
  std::filesystem::path path;
};

// The migration files of `dir` in version order; subdirectories (demo data) and other files are
// not migrations. Throws std::runtime_error on two files with one version.
std::vector<MigrationFile> list_migrations(const std::filesystem::path& dir);

struct MigrationReport {
  std::vector<std::string> applied;  // names, in the order applied
  std::size_t already_applied = 0;
};

// Throws on any failure; the migration that failed is rolled back, the earlier ones stay.
MigrationReport run_migrations(const std::string& dsn, const std::filesystem::path& dir,
                               HostServices* host);

}  // namespace sidecar::inventory
