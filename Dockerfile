# board: a GraphQL discussion-board server.
#
#   docker build -t board:local .
#
# Embedded mode (SQLite in the /data volume, in-process cache):
#   docker run -p 8080:8080 -v board-data:/data board:local
# Production (MariaDB + Redis, several replicas): see docker-compose.yml.
#
# Configuration comes only from the environment (BOARD_<KEY>, DATABASE_URL, REDIS_URL; see README.md).

ARG RUST_VERSION=1.95

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /build

# Dependencies first, in a layer of their own: it is rebuilt only when Cargo.toml or Cargo.lock change.
# Cargo.toml names src/lib.rs, src/main.rs and the benchmark benches/hot_path.rs, and cargo reads no manifest
# whose declared targets are missing, so empty stand-ins let it compile every dependency. The benchmark's
# stand-in stays: the image never builds it, but the manifest below still declares it.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/hot_path.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/board-* target/release/deps/board-* \
        target/release/deps/libboard-* target/release/board target/release/libboard.*

# The real sources. Migrations are embedded at compile time (sqlx::migrate!), so they must be here too.
COPY src ./src
COPY migrations ./migrations
COPY schema.graphql ./
RUN cargo build --release --locked --bin board \
    && ./target/release/board --version

# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates: TLS to MariaDB/Redis when their URLs ask for it. curl: the HEALTHCHECK below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user that owns /data, where the embedded SQLite database (and, beside it, its generated
# JWT secret) live. Mount a volume there to keep them.
RUN groupadd --system --gid 10001 board \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin board \
    && mkdir -p /data \
    && chown 10001:10001 /data

COPY --from=builder /build/target/release/board /usr/local/bin/board

# Listen on every interface inside the container, log one JSON object per line, and default to the embedded
# SQLite database in /data. docker-compose.yml overrides DATABASE_URL (MariaDB) and adds REDIS_URL.
ENV BOARD_BIND=0.0.0.0:8080 \
    BOARD_LOG_FORMAT=json \
    DATABASE_URL=sqlite:///data/board.db

USER 10001:10001
WORKDIR /data
EXPOSE 8080

# /healthz answers as soon as the process serves HTTP; /readyz also checks the database and the cache.
# If you change BOARD_BIND's port, override this check too.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1

ENTRYPOINT ["board"]
CMD ["serve"]
