# syntax=docker/dockerfile:1
# One image for every DiffKeeper binary: diffkeeper-operator, diffkeeper-agent, dkctl and
# restore-wait (the manifests set the command). Built on Debian bookworm, like the development
# environment (scripts/install-deps.sh), so the same distribution packages are linked.
#
#   docker build -t ghcr.io/diffkeeper/diffkeeper:0.1.0 .
#
# The image runs as the non-root user 65532 by default (operator, restore-wait, dkctl); the
# agent DaemonSet sets runAsUser 0 with a few file capabilities (manifests/README.md).

ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------- build
FROM debian:${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libcpprest-dev libboost-dev nlohmann-json3-dev libyaml-cpp-dev liblmdb-dev libzstd-dev \
      libssl-dev libdivsufsort-dev libbz2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DDK_BUILD_TESTS=OFF -DDK_BUILD_BENCH=OFF -DDK_WERROR=OFF \
 && cmake --build /build --target diffkeeper-operator diffkeeper-agent dkctl restore-wait \
 && mkdir -p /out \
 && for b in operator/diffkeeper-operator nodeagent/diffkeeper-agent tools/dkctl \
             tools/restore-wait/restore-wait; do \
      install -m 0755 -s "/build/$b" /out/; \
    done

# ---------------------------------------------------------------- runtime
FROM debian:${DEBIAN_RELEASE}-slim
# Only the shared libraries the binaries link (no compilers, no shells beyond the base image's).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libyaml-cpp0.7 liblmdb0 libzstd1 libssl3 \
      libdivsufsort3 libbz2-1.0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 diffkeeper \
 && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin diffkeeper
COPY --from=build /out/ /usr/local/bin/
LABEL org.opencontainers.image.title="diffkeeper" \
      org.opencontainers.image.description="DiffKeeper operator, node agent, dkctl and restore-wait" \
      org.opencontainers.image.source="https://github.com/diffkeeper/diffkeeper" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532
# No ENTRYPOINT: every workload names its binary (command: [/usr/local/bin/…]).
CMD ["/usr/local/bin/diffkeeper-operator", "--help"]
