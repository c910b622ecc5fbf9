# syntax=docker/dockerfile:1
#
# licensefix container image: one static binary on a distroless, non-root base.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t licensefix .
#
# The image runs "licensefix run" by default; the same image serves the other
# subcommands (emulator, graphsim, send, dlq, dev) by overriding the command.
# It writes nothing outside /tmp, so it runs with a read-only root filesystem
# (mount a tmpfs or an emptyDir on /tmp).

ARG GO_VERSION=1.26.8

# ---- build stage -----------------------------------------------------------
# Runs on the build machine's platform and cross-compiles for the target one.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Never fetch another toolchain: go.mod pins the version this image carries.
ENV GOTOOLCHAIN=local GOFLAGS=-mod=readonly

# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .

ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/licensefix ./cmd/licensefix

# ---- runtime stage ---------------------------------------------------------
# static-debian12: CA certificates, tzdata and /etc/passwd, no shell, no
# package manager. The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="licensefix" \
      org.opencontainers.image.description="Reprocesses Microsoft 365 license assignments for users announced on an Azure Service Bus queue" \
      org.opencontainers.image.source="https://github.com/licensefix/licensefix" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"

COPY --from=build /out/licensefix /usr/local/bin/licensefix

# The only writable place the process may use (the Go runtime and azidentity
# honour TMPDIR); mount a tmpfs/emptyDir here when the root is read-only.
ENV TMPDIR=/tmp
USER 65532:65532
# /livez, /readyz and /metrics (LICENSEFIX_HTTP_ADDR, default :8080).
EXPOSE 8080

ENTRYPOINT ["/usr/local/bin/licensefix"]
CMD ["run"]
