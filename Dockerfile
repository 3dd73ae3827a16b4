# The operator image: one static binary on a distroless base, run as a
# non-root user. The same binary is copied into the Ceph image by an init
# container to run the node agent, so it must stay static (CGO_ENABLED=0).
FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
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
