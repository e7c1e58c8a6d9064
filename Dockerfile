# The sidecar image: built on Debian 12 with the -dev packages, run on Debian 12 slim with only the
# runtime libraries, the binary, the plugins, the migrations and the configs.
#   docker build -t sidecar .
#   docker run --rm sidecar plugins          # lists the plugins the image holds
#   docker run --rm -e KAFKA_BROKERS=... -e PG_DSN=... -e REDIS_URL=... sidecar   # runs kafka.yaml
# docker-compose.yml runs it with Kafka, PostgreSQL and Redis (`make up`).

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      cppzmq-dev libzmq3-dev librdkafka-dev libpqxx-dev libhiredis-dev libyaml-cpp-dev \
      libboost-dev libboost-filesystem-dev libfmt-dev libspdlog-dev libcpp-httplib-dev \
      nlohmann-json3-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# No tests or benchmarks in the image; every plugin folder is built and installed (the SDK's
# headers and CMake package are left out of the runtime image).
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIDECAR_WERROR=OFF \
      -DSIDECAR_BUILD_TESTS=OFF -DSIDECAR_BUILD_BENCH=OFF \
 && cmake --build /build \
 && DESTDIR=/stage cmake --install /build --prefix /opt/sidecar \
 && rm -rf /stage/opt/sidecar/include /stage/opt/sidecar/lib/cmake \
 && mkdir -p /stage/opt/sidecar/configs \
 && cp -r migrations /stage/opt/sidecar/migrations \
 && cp configs/*.yaml /stage/opt/sidecar/configs/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libzmq5 librdkafka1 libpqxx-6.4 libpq5 libhiredis0.14 libyaml-cpp0.7 libfmt9 \
      libcpp-httplib0.11 libjemalloc2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /opt/sidecar --shell /usr/sbin/nologin sidecar
COPY --from=build /stage/opt/sidecar /opt/sidecar
WORKDIR /opt/sidecar
ENV PATH=/opt/sidecar/bin:$PATH \
    SIDECAR_PLUGIN_DIR=/opt/sidecar/lib/sidecar/plugins \
    SIDECAR_MIGRATIONS=/opt/sidecar/migrations \
    ADMIN_ADDR=0.0.0.0:9464
USER sidecar
EXPOSE 9464
# SIGTERM drains in-flight messages, commits and exits 0 (give it drain_timeout to do so).
STOPSIGNAL SIGTERM
ENTRYPOINT ["sidecar"]
CMD ["run", "-c", "configs/kafka.yaml"]
