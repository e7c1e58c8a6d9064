#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing. Idempotent.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  cppzmq-dev libzmq3-dev librdkafka-dev libpqxx-dev libhiredis-dev libyaml-cpp-dev
  libboost-dev libboost-filesystem-dev libgtest-dev libgmock-dev libbenchmark-dev
  libfmt-dev libspdlog-dev libcpp-httplib-dev nlohmann-json3-dev libjemalloc-dev
  postgresql postgresql-contrib redis-server kcat clang-format
  default-jre-headless maven curl procps
  docker-compose
)

# Extra packages a caller needs only sometimes (scripts/fuzz.sh: clang).
read -r -a extra <<<"${SIDECAR_SETUP_EXTRA:-}"
PACKAGES+=("${extra[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages and not root; install them: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
