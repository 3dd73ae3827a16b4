# ceph-operator Makefile. The two commands a new user needs are `make demo`
# and `make test`; everything they need is built from pinned sources into bin/.

VERSION ?= 0.1.0
IMAGE_TAG_BASE ?= quay.io/ceph-operator/ceph-operator
IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

ROOT := $(shell pwd)
BIN := $(ROOT)/bin
export PATH := $(BIN):$(PATH)

CONTROLLER_GEN := $(BIN)/controller-gen
KUSTOMIZE := $(BIN)/kustomize
# The control-plane binaries tests run against (envtest reads them from here).
ENVTEST_ASSETS := $(BIN)/etcd $(BIN)/kube-apiserver $(BIN)/kubectl

# Generated files that must be committed up to date.
GENERATED := api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml

# Go test flags; GO_TEST_TIMEOUT bounds a whole package run.
GO_TEST_TIMEOUT ?= 20m
GO_TEST_FLAGS ?=

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and the RBAC role from markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." paths="./internal/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when committed generated files are stale.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "Generated files are stale; run 'make manifests generate' and commit:"; \
		git status --porcelain -- $(GENERATED); git --no-pager diff --stat -- $(GENERATED); exit 1; \
	fi

.PHONY: fmt
fmt: ## Run gofmt on the project.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify-fmt
verify-fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

.PHONY: test
test: verify-generated verify-fmt vet e2e-assets $(KUSTOMIZE) node-tools ## Run every test against a real API server (builds what it needs).
	KUBEBUILDER_ASSETS=$(BIN) go test -timeout $(GO_TEST_TIMEOUT) $(GO_TEST_FLAGS) ./...
	$(MAKE) fuzz

# Each fuzz target runs for FUZZTIME in `make test` (its seed corpus also
# runs in every plain `go test`); run longer with e.g. `make fuzz FUZZTIME=10m`.
FUZZTIME ?= 5s
FUZZ_TARGETS := ./internal/discovery:FuzzParseUdevData ./internal/discovery:FuzzParseMountinfo \
	./internal/ceph:FuzzParseBlueStoreLabel ./internal/agent:FuzzParseUevent

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME.
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz: $$name ($$pkg) for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg || exit 1; \
	done

.PHONY: node-tools
node-tools: ## Install the host tools the real-disk tests use (root only; skipped otherwise).
	hack/install-node-tools.sh

.PHONY: test-e2e
test-e2e: e2e-assets $(KUSTOMIZE) ## Run only the end-to-end tests (full control plane, simulated nodes).
	KUBEBUILDER_ASSETS=$(BIN) go test -timeout $(GO_TEST_TIMEOUT) -count=1 -v ./tests/e2e/

.PHONY: envtest-assets
envtest-assets: ## Build etcd, kube-apiserver and kubectl from source into bin/.
	hack/build-controlplane.sh etcd kube-apiserver kubectl

.PHONY: e2e-assets
e2e-assets: envtest-assets ## Also build kube-controller-manager, kube-scheduler and kwok into bin/.
	hack/build-controlplane.sh kube-controller-manager kube-scheduler kwok

##@ Build

.PHONY: build
build: ## Build the operator binary (manager and agent subcommands).
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/ceph-operator ./cmd

.PHONY: run
run: build ## Run the manager against the current kubeconfig.
	$(BIN)/ceph-operator manager --leader-elect=false

.PHONY: demo
demo: build e2e-assets ## Start a local control plane with simulated nodes, the operator and the sample CephCluster.
	go run ./hack/demo

.PHONY: docker-build
docker-build: ## Build the operator image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRDs into the current cluster.
	$(KUSTOMIZE) build config/crd | $(BIN)/kubectl apply --server-side -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator to the current cluster.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(BIN)/kubectl apply --server-side -f -

##@ Tools (built from pinned sources in hack/tools)

$(CONTROLLER_GEN): hack/tools/gen/go.mod
	cd hack/tools/gen && GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen
	@touch $@

$(KUSTOMIZE): hack/tools/gen/go.mod
	cd hack/tools/gen && GOBIN=$(BIN) go install sigs.k8s.io/kustomize/kustomize/v5
	@touch $@
