# eventrouter container image: the static binary on distroless, as a
# non-root user. Build and run:
#
#   docker build -t eventrouter --build-arg VERSION=1.2.0 --build-arg COMMIT=$(git rev-parse HEAD) .
#   docker run -p 3000:3000 eventrouter
#
# Your own config (and its rule tests, for check --test):
#
#   docker run -p 3000:3000 -v "$PWD/config.yaml:/etc/eventrouter/config.yaml:ro" eventrouter
#
# The admin listener (metrics, /healthz, /readyz) stays on the container's
# loopback, where HEALTHCHECK asks it, unless you ask for it on every
# interface and publish it:
#
#   docker run -p 3000:3000 -p 9090:9090 -e EVENTROUTER_ADMIN_LISTEN=0.0.0.0:9090 eventrouter
#
# docs/operations.md#container-image has the details.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
# Static (no libc needed on distroless/static), stamped for "eventrouter version".
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/eventrouter ./cmd/eventrouter \
 && /out/eventrouter check --test --config config.yaml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/eventrouter /usr/bin/eventrouter
COPY config.yaml config_test.yaml /etc/eventrouter/
# distroless's nonroot user, by number so that Kubernetes' runAsNonRoot can
# verify it; the config stays root-owned and read-only.
USER 65532:65532
EXPOSE 3000
# Asks /readyz on the admin listener, wherever the config and
# EVENTROUTER_ADMIN_LISTEN put it (0.0.0.0 is asked on loopback).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/bin/eventrouter", "health", "--config", "/etc/eventrouter/config.yaml"]
ENTRYPOINT ["/usr/bin/eventrouter"]
CMD ["run", "--config", "/etc/eventrouter/config.yaml"]
