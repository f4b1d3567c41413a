# respaldo in a container: a Debian 12 build stage and a slim runtime stage that carries only the
# binary, its shared libraries, the time zone database and CA certificates.
#
#   docker build -t respaldo .
#   docker compose up -d        (see compose.yaml)

FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
# The same Debian packages scripts/test.sh installs (python3 embeds the dashboard, web/).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build python3 \
      libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev \
      libssl-dev zlib1g-dev libsqlitecpp-dev libhowardhinnant-date-dev catch2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
 && cmake --build build \
 && strip build/app/respaldo

FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries of the build stage's -dev packages (SQLiteCpp is linked statically, so only
# SQLite itself is needed; libdate-tz3 reads the system tzdata). curl serves the HEALTHCHECK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-program-options1.81.0 libboost-url1.81.0 \
      libssl3 libsqlite3-0 libdate-tz3 tzdata ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid so that volumes and secret files can be owned by it on the host.
RUN groupadd --system --gid 10001 respaldo \
 && useradd --system --uid 10001 --gid respaldo --home-dir /var/lib/respaldo --no-create-home \
      --shell /usr/sbin/nologin respaldo \
 && install -d -o respaldo -g respaldo -m 0700 /var/lib/respaldo
COPY --from=build /src/build/app/respaldo /usr/local/bin/respaldo
# Fails the image build if a shared library is missing from the runtime stage.
RUN respaldo --version

LABEL org.opencontainers.image.title="respaldo" \
      org.opencontainers.image.description="Backup orchestrator: pulls app exports, verifies them and stores them locally or in Google Drive" \
      org.opencontainers.image.licenses="Apache-2.0"

USER respaldo:respaldo
WORKDIR /var/lib/respaldo
# SQLite database, sealing key, generated admin token and local backups live here.
VOLUME ["/var/lib/respaldo"]
EXPOSE 8080
# respaldo stops accepting on SIGTERM and finishes in-flight requests before exiting.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["respaldo"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/respaldo"]
