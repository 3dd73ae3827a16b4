# The operator image: one static binary on a distroless base, run as a
# non-root user. The same binary is copied into the Ceph image by an init
# container to run the node agent, so it must stay static (CGO_ENABLED=0).
#
# Multi-platform: `make docker-buildx` builds it for linux/amd64 and
# linux/arm64 (PLATFORMS). The builder stage runs on the build machine's own
# platform (BUILDPLATFORM) and cross-compiles for the target's (TARGETOS,
# TARGETARCH, set by BuildKit for each platform); only the final stage is
# per platform. It needs BuildKit, which sets these arguments: buildx, and
# Docker's default builder since 23.0.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev

WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download

COPY cmd/ cmd/
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/

RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags "-s -w -X github.com/ceph-operator/ceph-operator/internal/version.Version=${VERSION}" \
    -o ceph-operator ./cmd

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/ceph-operator /ceph-operator
USER 65532:65532

ENTRYPOINT ["/ceph-operator"]
CMD ["manager"]
