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
GOLANGCI_LINT := $(BIN)/golangci-lint
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

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint on every package, tests included (config: .golangci.yml).
	$(GOLANGCI_LINT) run ./...

.PHONY: verify-fmt
verify-fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

.PHONY: test
test: ceph-rootfs-prefetch verify-generated verify-bundle verify-catalog verify-fmt vet lint e2e-assets $(KUSTOMIZE) node-tools prometheus-tools ## Run every test against a real API server (builds what it needs).
	KUBEBUILDER_ASSETS=$(BIN) CEPH_OPERATOR_PROMETHEUS=1 go test -timeout $(GO_TEST_TIMEOUT) $(GO_TEST_FLAGS) ./...
	$(MAKE) test-minkube
	$(MAKE) fuzz
	$(MAKE) test-chaos
	$(MAKE) test-real-if-root
	$(MAKE) test-olm-if-root

# The inner loop: every package's tests that need neither root nor a
# control plane, with -short (tests that need an API server or loop
# devices skip themselves). Left out: controllers, whose TestMain starts an
# API server for the package, and the suites of tests/ that run a control
# plane, the real node or loop devices; tests/README.md lists them.
UNIT_EXCLUDE := /controllers$$|/tests/(e2e|chaos|bench|benche2e|bundle|realceph|realdisk|olm)(/|$$)
.PHONY: test-unit
test-unit: ## Run the unit tests: no root, no control plane, under a minute warm.
	go test -short $(GO_TEST_FLAGS) $$(go list ./... | grep -Ev '$(UNIT_EXCLUDE)')

# The real-node e2e needs root (loop devices, containerd, the kubelet); as
# root `make test` runs it, otherwise it says why it is skipped.
.PHONY: test-real-if-root
test-real-if-root:
	@if [ "$$(id -u)" -eq 0 ]; then $(MAKE) test-real && $(MAKE) test-real-upgrade; \
	else echo "test-real: skipped (needs root: run 'sudo make test-real test-real-upgrade')"; fi

# When `make test` started (the top-level make sets it; sub-makes inherit it).
ifndef TEST_START
TEST_START := $(shell date +%s)
endif
export TEST_START

# The OLM e2e (test-olm) needs root too. On a cold build cache it first
# builds OLM, opm, a registry and CoreDNS (about 9 minutes on 2 cores) and
# then runs for about 6; CI allows `make test` 90 minutes. So `make test`
# runs it unless the steps before it already took TEST_OLM_SKIP_AFTER
# minutes or more, and then says so; `make test-olm` runs it alone.
TEST_OLM_SKIP_AFTER ?= 60
.PHONY: test-olm-if-root
test-olm-if-root:
	@elapsed=$$(( ($$(date +%s) - $(TEST_START)) / 60 )); \
	if [ "$$(id -u)" -ne 0 ]; then echo "test-olm: skipped (needs root: run 'sudo make test-olm')"; \
	elif [ $$elapsed -ge $(TEST_OLM_SKIP_AFTER) ]; then \
	  echo "test-olm: skipped: make test has run $$elapsed minutes (TEST_OLM_SKIP_AFTER=$(TEST_OLM_SKIP_AFTER)); the OLM e2e would not fit CI's 90. Run 'make test-olm' on its own."; \
	else $(MAKE) test-olm; fi

# Each fuzz target runs for FUZZTIME in `make test` (its seed corpus also
# runs in every plain `go test`); run longer with e.g. `make fuzz FUZZTIME=10m`.
FUZZTIME ?= 5s
# How long the engine may minimise a new input, in executions: bounded by
# time (Go's default is 60s) it spent most of a short run minimising large
# JSON inputs, and FuzzParseStatus ran a few dozen inputs in 5s.
FUZZMINIMIZE ?= 100x
FUZZ_TARGETS := ./internal/discovery:FuzzParseUdevData ./internal/discovery:FuzzParseMountinfo ./internal/discovery:FuzzBlankWindows \
	./internal/ceph:FuzzParseBlueStoreLabel ./internal/ceph:FuzzParseStatus ./internal/uevent:FuzzParse \
	./internal/smart:FuzzParse ./internal/gpt:FuzzRead

.PHONY: fuzz
# Go's fuzzing engine can end a run with "context deadline exceeded" and no
# failing input when FUZZTIME runs out while it minimises a new interesting
# input (not a finding: nothing is written to testdata/fuzz). Such a run is
# repeated once; a run that writes a failing input fails at once.
fuzz: ## Run every fuzz target for FUZZTIME.
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		for try in 1 2; do \
			echo "fuzz: $$name ($$pkg) for $(FUZZTIME)"; \
			rc=0; out=$$(go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg 2>&1) || rc=$$?; \
			echo "$$out"; \
			echo "fuzz: $$name ($$pkg) ran $$(echo "$$out" | grep -o 'execs: [0-9]*' | tail -1 | cut -d' ' -f2) inputs in $(FUZZTIME)"; \
			[ $$rc -eq 0 ] && break; \
			if [ $$try -eq 1 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input'; then \
				echo "fuzz: $$name stopped by the engine's deadline, not by a failing input: running it again"; continue; fi; \
			exit 1; \
		done; \
	done

.PHONY: node-tools
node-tools: ## Install the host tools the real-disk tests use (root only; skipped otherwise).
	hack/install-node-tools.sh

.PHONY: test-e2e
test-e2e: e2e-assets $(KUSTOMIZE) ## Run only the end-to-end tests (full control plane, simulated nodes).
	KUBEBUILDER_ASSETS=$(BIN) go test -timeout $(GO_TEST_TIMEOUT) -count=1 -v ./tests/e2e/

# Leader chaos: 50 simulated nodes provisioning while the operator's leader
# is killed (SIGKILL) and frozen (SIGSTOP) 20 times each; prints a table.
# CHAOS_SEED repeats a run; CHAOS_NODES, CHAOS_KILLS, CHAOS_FREEZES size it.
.PHONY: test-chaos
test-chaos: e2e-assets ## Run the leader chaos test (full control plane, 50 nodes, 40 leader kills and freezes; prints a table).
	CEPH_OPERATOR_CHAOS=1 KUBEBUILDER_ASSETS=$(BIN) go test -timeout 40m -count=1 -v -run TestLeaderChaos ./tests/chaos/

.PHONY: bench
bench: envtest-assets ## Run the scale benchmark (1,000 nodes x 12 disks, about 5 min; prints figures; a 10-node run is part of make test).
	CEPH_OPERATOR_BENCH=1 KUBEBUILDER_ASSETS=$(BIN) go test ./tests/bench -run TestScale -v -count=1 -timeout 60m

# Sizes of the full-control-plane scale run; e.g. `make bench-e2e BENCH_E2E_NODES=10`.
BENCH_E2E_NODES ?= 100,1000

.PHONY: bench-e2e
bench-e2e: e2e-assets ## Run the scale run on a full control plane (100 and 1,000 kwok nodes x 12 disks; prints figures).
	CEPH_OPERATOR_BENCH_E2E=1 BENCH_E2E_NODES=$(BENCH_E2E_NODES) KUBEBUILDER_ASSETS=$(BIN) \
		go test ./tests/benche2e -run TestScaleE2E -v -count=1 -timeout 240m

.PHONY: envtest-assets
envtest-assets: ## Build etcd, kube-apiserver and kubectl from source into bin/.
	hack/build-tools.sh etcd kube-apiserver kubectl

.PHONY: e2e-assets
e2e-assets: envtest-assets ## Also build kube-controller-manager, kube-scheduler and kwok into bin/.
	hack/build-tools.sh kube-controller-manager kube-scheduler kwok

# The oldest Kubernetes the operator supports, the CSV's minKubeVersion:
# its kube-apiserver and etcd, pinned in hack/tools/controlplane-min, built
# into bin/minkube/. test-minkube runs every test that starts an API
# server and is about the API the operator uses (the CRDs' schemas and
# validation rules, the admission policy, the reconcilers, server-side
# apply, the node agent's writes) against it; TEST_KUBE_VERSION makes
# internal/testenv fail unless the server it started is that version.
MINKUBE_BIN := $(BIN)/minkube
MINKUBE_VERSION = $(shell cd hack/tools/controlplane-min && go list -m -f '{{.Version}}' k8s.io/kubernetes)
MINKUBE_PACKAGES := ./api/... ./controllers/... ./internal/agent/... ./internal/apply/... ./internal/manager/...

.PHONY: minkube-assets
minkube-assets: ## Build the oldest supported kube-apiserver and its etcd into bin/minkube/.
	hack/build-tools.sh minkube

.PHONY: test-minkube
test-minkube: minkube-assets ## Run the API and reconciler envtests against the oldest supported Kubernetes (the CSV's minKubeVersion).
	KUBEBUILDER_ASSETS=$(MINKUBE_BIN) TEST_KUBE_VERSION=$(MINKUBE_VERSION) \
		go test -count=1 -timeout $(GO_TEST_TIMEOUT) $(GO_TEST_FLAGS) $(MINKUBE_PACKAGES)

##@ Alerts and dashboard

PROMTOOL := $(BIN)/promtool
PROMETHEUS := $(BIN)/prometheus

# promtool checks and unit-tests the alerting rules (config/prometheus/
# rules.yaml, cases in tests/prometheus/rules_test.yaml); Prometheus runs
# them on loopback against scraped series (tests/prometheus, tests/e2e). Both come from one pinned module; a cold build of the
# two took 6 minutes (4 minutes of CPU) on 2 cores shared with other
# builds (load average 6-11), and nothing once built.
.PHONY: prometheus-tools
prometheus-tools: $(PROMTOOL) $(PROMETHEUS) ## Build promtool and Prometheus from pinned source into bin/.

.PHONY: test-alerts
test-alerts: $(PROMTOOL) $(PROMETHEUS) ## Check the alerting rules and the dashboard's queries; promtool tests; Prometheus on loopback.
	CEPH_OPERATOR_PROMETHEUS=1 go test -count=1 -v ./tests/prometheus/

$(PROMTOOL): hack/tools/prometheus/go.mod
	hack/build-tools.sh promtool

$(PROMETHEUS): hack/tools/prometheus/go.mod
	hack/build-tools.sh prometheus

##@ Real node (root only)

.PHONY: realnode-assets
realnode-assets: envtest-assets ## Also build kube-controller-manager, kube-scheduler, kubelet and kube-proxy into bin/.
	hack/build-tools.sh kube-controller-manager kube-scheduler kubelet kube-proxy

.PHONY: realnode-tools
realnode-tools: ## Install Debian's containerd, runc, CNI plugins and iptables (root only).
	hack/install-realnode-tools.sh

# How many real nodes `make cluster-up` runs.
NODES ?= 1

.PHONY: cluster-up
cluster-up: realnode-assets realnode-tools ## Start a real cluster of NODES nodes (default 1) here (KUBECONFIG=bin/realnode/kubeconfig); says so when already up.
	go run ./tests/framework/realnode/cmd up -nodes $(NODES)

.PHONY: cluster-down
cluster-down: ## Stop the real node and undo its changes to the machine (keeps logs and imported images).
	go run ./tests/framework/realnode/cmd down

# CEPH_VERSION is the version of the image's ceph-osd package: the test
# checks that the daemons run exactly that Ceph release.
.PHONY: test-real
test-real: realnode-assets realnode-tools images $(KUSTOMIZE) ## The real e2e on the Ceph test image of CEPH_RELEASE (default 16; 18, 20): operator from config/default on the real node, real Ceph, loop devices (root).
	CEPH_OPERATOR_REAL=1 CEPH_TEST_IMG=$(CEPH_TEST_IMG) CEPH_ARCHIVE=$(CEPH_IMAGE_TAR) OPERATOR_ARCHIVE=$(OPERATOR_IMAGE_TAR) \
		CEPH_VERSION=$$(awk '$$1 == "ceph-osd" {print $$2}' $(CEPH_ROOTFS).packages) \
		go test -count=1 -v -timeout 80m ./tests/realceph/

.PHONY: test-real-all
test-real-all: ## The real e2e on each Ceph release of CEPH_RELEASES in turn (root).
	@for r in $(CEPH_RELEASES); do echo "test-real: Ceph release $$r"; $(MAKE) test-real CEPH_RELEASE=$$r || exit 1; done

.PHONY: test-realnode
test-realnode: realnode-assets realnode-tools ## Prove the real node: Ready, pods on host and pod network, clean teardown.
	CEPH_OPERATOR_REAL=1 go test -count=1 -v -timeout 20m ./tests/framework/realnode/

##@ Build

.PHONY: build
build: kubectl-ceph ## Build the operator binary (manager and agent subcommands) and the kubectl plugin.
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/ceph-operator ./cmd

# The kubectl plugin: copy bin/kubectl-ceph onto PATH and run `kubectl ceph`
# (docs/kubectl-plugin.md). GOOS and GOARCH build it for another platform.
.PHONY: kubectl-ceph
kubectl-ceph: ## Build the kubectl plugin into bin/kubectl-ceph.
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/kubectl-ceph ./cmd/kubectl-ceph

# What `make krew` builds the plugin for, and where its archives are
# published (the manifest's download addresses).
KREW_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
KREW_URL ?= https://github.com/ceph-operator/ceph-operator/releases/download/v$(VERSION)
KREW_DIR := $(BIN)/krew

# Archives are reproducible (fixed order, owner and time, no gzip name), so
# the same source gives the same SHA-256 in the manifest.
.PHONY: krew
krew: ## Build kubectl-ceph archives for KREW_PLATFORMS and the krew manifest from config/krew/ceph.yaml into bin/krew/.
	rm -rf $(KREW_DIR) && mkdir -p $(KREW_DIR)
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@URL@|$(KREW_URL)|g' config/krew/ceph.yaml > $(KREW_DIR)/ceph.yaml
	@for p in $(KREW_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; dir=$(KREW_DIR)/kubectl-ceph_$${os}_$${arch}; \
		echo "building kubectl-ceph for $$os/$$arch"; mkdir -p $$dir && \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -buildvcs=false \
			-ldflags "-s -w -X github.com/ceph-operator/ceph-operator/internal/version.Version=$(VERSION)" \
			-o $$dir/kubectl-ceph ./cmd/kubectl-ceph && cp LICENSE $$dir/ && \
		tar -C $$dir --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - kubectl-ceph LICENSE | gzip -n > $$dir.tar.gz && \
		sed -i "s|@SHA256_$${os}_$${arch}@|$$(sha256sum $$dir.tar.gz | cut -d' ' -f1)|" $(KREW_DIR)/ceph.yaml || exit 1; \
	done
	@if grep -n '@[A-Za-z0-9_]*@' $(KREW_DIR)/ceph.yaml; then \
		echo "placeholders left in $(KREW_DIR)/ceph.yaml: KREW_PLATFORMS must list every platform of config/krew/ceph.yaml"; exit 1; fi
	@echo "wrote $(KREW_DIR)/ceph.yaml and its archives"

.PHONY: run
run: build ## Run the manager against the current kubeconfig.
	$(BIN)/ceph-operator manager --leader-elect=false

.PHONY: demo
demo: build e2e-assets ## Start a local control plane with simulated nodes, the operator and the sample CephCluster.
	go run ./hack/demo

# The platforms the operator image is built for. Node pods run its binary
# (copied into the Ceph image), so they are only scheduled on nodes of these
# architectures: internal/nodeselect.Architectures must list the same ones
# (a test checks it), as must the CSV's operatorframework.io/arch.* labels.
PLATFORMS ?= linux/amd64,linux/arm64
comma := ,
empty :=
space := $(empty) $(empty)
# The architectures of PLATFORMS, space-separated: amd64 arm64.
OPERATOR_ARCHS := $(subst linux/,,$(subst $(comma),$(space),$(PLATFORMS)))
BUILDX_BUILDER ?= ceph-operator

.PHONY: docker-build
docker-build: ## Build the operator image for the engine's own platform (needs a Docker engine).
	docker build -t $(IMG) .

# One multi-platform image (an image index) for PLATFORMS, pushed to the
# registry of IMG: a multi-platform image cannot be loaded into the local
# engine. The Dockerfile's builder stage runs on the build machine's
# platform and cross-compiles (TARGETOS, TARGETARCH), so no emulator is
# needed. Needs a Docker engine with buildx; the builder BUILDX_BUILDER is
# created on first use and kept.
.PHONY: docker-buildx
docker-buildx: ## Build and push the operator image for PLATFORMS (linux/amd64,linux/arm64) with docker buildx.
	docker buildx inspect $(BUILDX_BUILDER) >/dev/null 2>&1 || docker buildx create --name $(BUILDX_BUILDER) --driver docker-container
	docker buildx build --builder $(BUILDX_BUILDER) --platform $(PLATFORMS) \
		--build-arg VERSION=$(VERSION) --tag $(IMG) --push .

##@ Local images (no registry: for the real-node tests)

# The release image is built from the Dockerfile with a Docker engine and
# pushed to a registry. The real-node tests have neither, so these targets
# build images with the same contents as OCI layout archives
# (hack/ociimage) and import them into a containerd. See docs/testing.md.
IMAGES_DIR := $(BIN)/images
OCIIMAGE := $(BIN)/ociimage
OPERATOR_IMAGE_TAR := $(IMAGES_DIR)/ceph-operator.tar
# The Ceph images the real-node tests run, one per Ceph release, each built
# from the Ceph packages of one Debian suite: 16 (16.2, bookworm, the
# default), 18 (18.2, trixie) and 20 (20.2, sid). CEPH_RELEASE picks the one
# image-ceph builds and test-real runs; CEPH_TEST_IMG renames it. The
# samples and README use a current upstream release. The registry is
# localhost so that even an accidental pull stays on this machine.
CEPH_RELEASES := 16 18 20
CEPH_RELEASE ?= 16
ceph_suite_16 := bookworm
ceph_suite_18 := trixie
ceph_suite_20 := sid
ifeq ($(ceph_suite_$(CEPH_RELEASE)),)
$(error CEPH_RELEASE=$(CEPH_RELEASE): choose one of $(CEPH_RELEASES))
endif
$(foreach r,$(CEPH_RELEASES),$(eval ceph_img_$(r) := localhost/ceph-operator/ceph-test:v$(r).2))
CEPH_TEST_IMG ?= $(ceph_img_$(CEPH_RELEASE))
ceph_img_$(CEPH_RELEASE) := $(CEPH_TEST_IMG)
ceph_tar = $(IMAGES_DIR)/ceph-test-v$(1).2.tar
CEPH_IMAGE_TAR := $(call ceph_tar,$(CEPH_RELEASE))
# The root file systems take minutes to build, so they are cached outside
# the clone (a fresh clone, as CI uses, reuses them) under names keyed by
# the suite and the scripts that make them (and so by the package lists):
# a change to either builds a new one. CEPH_CACHE_DIR moves the cache.
CEPH_CACHE_DIR ?= /var/cache/ceph-operator
CEPH_ROOTFS_INPUTS := hack/images/ceph-rootfs.sh hack/lib/apt-mirror.sh
CEPH_ROOTFS_INPUTS_SUM := $(shell cat $(CEPH_ROOTFS_INPUTS) | sha256sum | cut -c1-64)
ceph_rootfs = $(CEPH_CACHE_DIR)/ceph-rootfs-$(ceph_suite_$(1))-$(shell echo '$(CEPH_ROOTFS_INPUTS_SUM) $(ceph_suite_$(1))' | sha256sum | cut -c1-16)
CEPH_ROOTFS := $(call ceph_rootfs,$(CEPH_RELEASE))
# The containerd the images are imported into. The real-node harness runs
# its own (run/containerd.sock in its directory) and passes that socket;
# the default is the socket of Debian's containerd service.
CONTAINERD_ADDRESS ?= /run/containerd/containerd.sock
CONTAINERD_NAMESPACE ?= k8s.io
CONTAINERD_SNAPSHOTTER ?= overlayfs
CTR ?= ctr
IMAGE_PATH_ENV := PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

$(OCIIMAGE): $(wildcard hack/ociimage/*.go)
	CGO_ENABLED=0 go build -trimpath -o $@ ./hack/ociimage

# Always re-run: go build is incremental and packing a static binary takes
# a second, while a stale binary in a test image is hard to notice. The
# binary is built as the Dockerfile builds it (which has no .git, hence
# -buildvcs=false: the same source gives the same image digest), and the
# contents mirror its distroless/static:nonroot stage: the binary, passwd
# and group with nonroot (65532), /tmp and nonroot's home.
# No CA bundle: the operator talks only to the API server, whose CA comes
# with its service account.
# Like docker-buildx, it is one image per architecture of PLATFORMS, each
# with its cross-compiled binary, under one image index; a containerd
# importing or pulling it takes the image of its own platform.
.PHONY: image-operator
image-operator: $(OCIIMAGE) ## Build the operator image for PLATFORMS as an OCI layout archive (bin/images/ceph-operator.tar) named IMG.
	@for arch in $(OPERATOR_ARCHS); do \
		mkdir -p $(IMAGES_DIR)/operator/$$arch && \
		echo "building the operator for linux/$$arch" && \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -buildvcs=false \
			-ldflags "-s -w -X github.com/ceph-operator/ceph-operator/internal/version.Version=$(VERSION)" \
			-o $(IMAGES_DIR)/operator/$$arch/ceph-operator ./cmd || exit 1; \
	done
	$(OCIIMAGE) -o $(OPERATOR_IMAGE_TAR) -ref $(IMG) -arch $(subst $(space),$(comma),$(OPERATOR_ARCHS)) \
		-file $(IMAGES_DIR)/operator/{arch}/ceph-operator:/ceph-operator:0755 \
		-file hack/images/operator/passwd:/etc/passwd:0644 \
		-file hack/images/operator/group:/etc/group:0644 \
		-dir /tmp:1777 -dir /home/nonroot:0700:65532:65532 \
		-env $(IMAGE_PATH_ENV) -workdir / -user 65532:65532 \
		-entrypoint '["/ceph-operator"]' -cmd '["manager"]'

.PHONY: image-ceph
image-ceph: $(CEPH_IMAGE_TAR) ## Build the Ceph test image of CEPH_RELEASE (16, 18, 20) from Debian's packages (root; bin/images/ceph-test-vN.2.tar) named CEPH_TEST_IMG.

.PHONY: image-ceph-all
image-ceph-all: $(foreach r,$(CEPH_RELEASES),$(call ceph_tar,$(r))) ## Build the Ceph test images of all CEPH_RELEASES (root).

# One root file system, reference file and archive per release. The
# script writes the package list last, so it marks a complete rootfs. Its
# name holds the hash of its inputs, so it has no prerequisites: a fresh
# clone gives the inputs new times but the same name, and must reuse it.
define ceph_image_rules
$(call ceph_rootfs,$(1)).packages:
	hack/images/ceph-rootfs-cached.sh $(ceph_suite_$(1)) $(call ceph_rootfs,$(1))

# Changes when the image name does, so the archive is renamed without
# rebuilding the root file system.
$(IMAGES_DIR)/ceph-test-v$(1).2.ref: FORCE
	@mkdir -p $$(@D); echo '$(ceph_img_$(1))' | cmp -s - $$@ || echo '$(ceph_img_$(1))' >$$@

$(call ceph_tar,$(1)): $(call ceph_rootfs,$(1)).packages $(IMAGES_DIR)/ceph-test-v$(1).2.ref $(OCIIMAGE)
	$(OCIIMAGE) -o $$@ -ref $(ceph_img_$(1)) -rootfs $(call ceph_rootfs,$(1)) \
		-env $(IMAGE_PATH_ENV) -workdir / -cmd '["/bin/bash"]' \
		-label org.opencontainers.image.title=ceph-test \
		-label org.opencontainers.image.description="Debian's Ceph packages, for ceph-operator's real-node tests" \
		-label org.opencontainers.image.version=$$$$(awk '$$$$1 == "ceph-osd" {print $$$$2}' $(call ceph_rootfs,$(1)).packages)
endef
$(foreach r,$(CEPH_RELEASES),$(eval $(call ceph_image_rules,$(r))))

# make test starts the missing root file systems first, in the background
# (root only), so that their download overlaps the tools' build.
.PHONY: ceph-rootfs-prefetch
ceph-rootfs-prefetch: ## Start building the missing cached Ceph root file systems in the background (root; make test's first step; log in bin/images/ceph-rootfs.log).
	@hack/images/ceph-rootfs-prefetch.sh $(IMAGES_DIR)/ceph-rootfs.log $(foreach r,$(CEPH_RELEASES),$(ceph_suite_$(r)):$(call ceph_rootfs,$(r)))

# The real upgrade (after the image rules: its prerequisites name their
# archives): three real nodes on the Ceph image of
# CEPH_UPGRADE_FROM (18), then spec.image to that of CEPH_UPGRADE_TO (20),
# with readers reading throughout, then a refused downgrade.
CEPH_UPGRADE_FROM ?= 18
CEPH_UPGRADE_TO ?= 20
ceph_pkg_version = $$(awk '$$1 == "ceph-osd" {print $$2}' $(call ceph_rootfs,$(1)).packages)
.PHONY: test-real-upgrade
test-real-upgrade: realnode-assets realnode-tools image-operator $(call ceph_tar,$(CEPH_UPGRADE_FROM)) $(call ceph_tar,$(CEPH_UPGRADE_TO)) $(KUSTOMIZE) ## The real Ceph upgrade (CEPH_UPGRADE_FROM 18 to CEPH_UPGRADE_TO 20) on three real nodes, reads checked throughout (root).
	CEPH_OPERATOR_REAL=1 OPERATOR_ARCHIVE=$(OPERATOR_IMAGE_TAR) \
		CEPH_UPGRADE_FROM_IMG=$(ceph_img_$(CEPH_UPGRADE_FROM)) CEPH_UPGRADE_FROM_ARCHIVE=$(call ceph_tar,$(CEPH_UPGRADE_FROM)) \
		CEPH_UPGRADE_FROM_VERSION=$(call ceph_pkg_version,$(CEPH_UPGRADE_FROM)) \
		CEPH_UPGRADE_TO_IMG=$(ceph_img_$(CEPH_UPGRADE_TO)) CEPH_UPGRADE_TO_ARCHIVE=$(call ceph_tar,$(CEPH_UPGRADE_TO)) \
		CEPH_UPGRADE_TO_VERSION=$(call ceph_pkg_version,$(CEPH_UPGRADE_TO)) \
		go test -count=1 -v -timeout 60m -run '^TestRealCephUpgrade$$' ./tests/realceph/

.PHONY: images
images: image-operator image-ceph ## Build the operator image and the Ceph test image of CEPH_RELEASE (what make test needs).

.PHONY: images-import
images-import: images ## Import the operator image and the Ceph test image of CEPH_RELEASE into the containerd at CONTAINERD_ADDRESS, namespace k8s.io (root).
	$(CTR) --address $(CONTAINERD_ADDRESS) -n $(CONTAINERD_NAMESPACE) images import --all-platforms \
		--snapshotter $(CONTAINERD_SNAPSHOTTER) $(OPERATOR_IMAGE_TAR)
	$(CTR) --address $(CONTAINERD_ADDRESS) -n $(CONTAINERD_NAMESPACE) images import \
		--snapshotter $(CONTAINERD_SNAPSHOTTER) $(CEPH_IMAGE_TAR)
	@$(CTR) --address $(CONTAINERD_ADDRESS) -n $(CONTAINERD_NAMESPACE) images ls -q | grep -qx '$(IMG)' || { echo "$(IMG) is not in containerd after import" >&2; exit 1; }
	@$(CTR) --address $(CONTAINERD_ADDRESS) -n $(CONTAINERD_NAMESPACE) images ls -q | grep -qx '$(CEPH_TEST_IMG)' || { echo "$(CEPH_TEST_IMG) is not in containerd after import" >&2; exit 1; }

.PHONY: FORCE
FORCE:

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
	hack/build-tools.sh controller-gen

$(KUSTOMIZE): hack/tools/gen/go.mod
	hack/build-tools.sh kustomize

$(GOLANGCI_LINT): hack/tools/golangci-lint/go.mod
	hack/build-tools.sh golangci-lint

##@ OLM bundle

OPERATOR_SDK := $(BIN)/operator-sdk
SCORECARD_TEST := $(BIN)/scorecard-test
CSV_BASE := config/manifests/bases/ceph-operator.clusterserviceversion.yaml
BUNDLE_CSV := bundle/manifests/ceph-operator.clusterserviceversion.yaml
BUNDLE_CHANNELS ?= alpha
BUNDLE_DEFAULT_CHANNEL ?= alpha

# The lowest Kubernetes version the operator supports (the CSV's
# spec.minKubeVersion), and the OpenShift versions the bundle declares for
# OpenShift's catalogs: OpenShift 4.N ships Kubernetes 1.(N+13), so by
# default they start at the OpenShift release of MIN_KUBE_VERSION.
MIN_KUBE_VERSION ?= 1.30.0
OPENSHIFT_VERSIONS ?= v4.$(shell echo $$(( $(word 2,$(subst ., ,$(MIN_KUBE_VERSION))) - 13 )))
# The upgrade edges of the release being built: REPLACES is the CSV it
# replaces (e.g. ceph-operator.v0.1.0), SKIP_RANGE the versions it replaces
# directly (e.g. '>=0.1.0 <0.2.0'); both empty for the first release.
REPLACES ?=
SKIP_RANGE ?=
# The default Ceph image: RELATED_IMAGE_CEPH of the manager, hence the
# CSV's relatedImages (what mirroring for a disconnected cluster copies).
# The samples name the same image (a bundle test checks it).
CEPH_IMAGE ?= quay.io/ceph/ceph:v19.2.3
# true pins every image reference of the CSV to a digest; operator-sdk
# resolves the digests from the registry, so the images must be pushed.
USE_IMAGE_DIGESTS ?= false

# operator-sdk stamps the CSV's createdAt with the current time on every run;
# the value committed in the CSV base is the release date, so `bundle` puts
# it back and the bundle stays reproducible. Change it in the base when
# releasing. hack/csvset then sets minKubeVersion and the upgrade edges and
# copies the manager's image (IMG, or its digest) into containerImage.
.PHONY: bundle
bundle: manifests $(KUSTOMIZE) $(OPERATOR_SDK) ## Generate the OLM bundle (bundle/, bundle.Dockerfile) and validate it.
	@created=$$(sed -n 's/^    createdAt: "\(.*\)"$$/\1/p' $(CSV_BASE)); \
	if [ -z "$$created" ]; then echo "bundle: no createdAt in $(CSV_BASE)" >&2; exit 1; fi; \
	digests=; if [ "$(USE_IMAGE_DIGESTS)" = true ]; then digests=--use-image-digests; fi; \
	set -x; \
	$(OPERATOR_SDK) generate kustomize manifests -q --apis-dir api --interactive=false; \
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG) && cd $(ROOT); \
	cd config/manifests && $(KUSTOMIZE) edit set image quay.io/ceph/ceph=$(CEPH_IMAGE) && cd $(ROOT); \
	$(KUSTOMIZE) build config/manifests | $(OPERATOR_SDK) generate bundle -q --overwrite --version $(VERSION) \
		--channels $(BUNDLE_CHANNELS) --default-channel $(BUNDLE_DEFAULT_CHANNEL) $$digests \
		|| { set +x; if [ -n "$$digests" ]; then echo "bundle: USE_IMAGE_DIGESTS=true resolves every image's digest from its registry: push IMG ($(IMG)) first, and make its registry and CEPH_IMAGE's ($(CEPH_IMAGE)) reachable (see docs/operations.md)" >&2; fi; exit 1; }; \
	sed -i "s/^    createdAt: \".*\"$$/    createdAt: \"$$created\"/" $(CSV_BASE) $(BUNDLE_CSV); \
	go run ./hack/csvset -csv $(BUNDLE_CSV) -min-kube-version $(MIN_KUBE_VERSION) -replaces '$(REPLACES)' -skip-range '$(SKIP_RANGE)'; \
	printf '\n  # OpenShift versions (from MIN_KUBE_VERSION).\n  com.redhat.openshift.versions: %s\n' '$(OPENSHIFT_VERSIONS)' >>bundle/metadata/annotations.yaml; \
	sed -i 's|^# Copy files to locations specified by labels.$$|# OpenShift versions (from MIN_KUBE_VERSION).\nLABEL com.redhat.openshift.versions=$(OPENSHIFT_VERSIONS)\n\n&|' bundle.Dockerfile
	$(OPERATOR_SDK) bundle validate ./bundle

# Like verify-generated, but compares with the bundle as it was before
# regenerating rather than with git, so it also works outside a checkout.
# It also builds scorecard-test, which the tests in tests/bundle (run by
# `go test ./...` or `make test-bundle`) execute.
.PHONY: verify-bundle
verify-bundle: $(SCORECARD_TEST) ## Fail when the committed bundle is stale (regenerates it first).
	@snap=$$(mktemp -d); trap 'rm -rf "$$snap"' EXIT; \
	cp -a bundle bundle.Dockerfile $(CSV_BASE) "$$snap"/; \
	cp config/manager/kustomization.yaml "$$snap/manager-kustomization.yaml"; \
	cp config/manifests/kustomization.yaml "$$snap/manifests-kustomization.yaml"; \
	$(MAKE) --no-print-directory bundle >"$$snap/bundle.log" 2>&1 || { cat "$$snap/bundle.log"; exit 1; }; \
	stale=0; \
	diff -r "$$snap/bundle" bundle || stale=1; \
	diff "$$snap/bundle.Dockerfile" bundle.Dockerfile || stale=1; \
	diff "$$snap/$$(basename $(CSV_BASE))" $(CSV_BASE) || stale=1; \
	diff "$$snap/manager-kustomization.yaml" config/manager/kustomization.yaml || stale=1; \
	diff "$$snap/manifests-kustomization.yaml" config/manifests/kustomization.yaml || stale=1; \
	if [ $$stale = 1 ]; then echo "The OLM bundle is stale; run 'make bundle' and commit the result." >&2; exit 1; fi

.PHONY: test-bundle
test-bundle: $(SCORECARD_TEST) ## Run the bundle validators and, as root, the built-in scorecard tests.
	go test -count=1 -v ./tests/bundle/

.PHONY: operator-sdk
operator-sdk: $(OPERATOR_SDK) ## Build operator-sdk from pinned source into bin/.

.PHONY: scorecard-test
scorecard-test: $(SCORECARD_TEST) ## Build the scorecard test image's binary into bin/.

# The script rebuilds a binary when its module's go.mod (the pin) was
# committed after the binary was built, and otherwise keeps it.
$(OPERATOR_SDK): hack/tools/operator-sdk/go.mod
	hack/build-tools.sh operator-sdk

$(SCORECARD_TEST): hack/tools/operator-sdk/go.mod
	hack/build-tools.sh scorecard-test

##@ Catalog

OPM := $(BIN)/opm
CATALOG_DIR := catalog/ceph-operator

# The file-based catalog holds one package, ceph-operator, with the alpha
# channel. It is rendered from the catalog template CATALOG_TEMPLATE
# (olm.template.basic), which keeps every released bundle: `catalog` first
# adds (or refreshes) the bundle in bundle/ with the edges its CSV declares
# (make bundle REPLACES= SKIP_RANGE=), under the image reference that
# `docker build -f bundle.Dockerfile` would push. It renders offline:
# earlier bundles come from the committed catalog (see hack/catalogtmpl);
# `catalog-from-registry` renders with `opm alpha render-template basic`,
# which pulls every bundle image.
CATALOG_TEMPLATE := config/catalog/template.yaml
.PHONY: catalog
catalog: $(OPM) ## Add bundle/ to the catalog template and render the file-based catalog (catalog/); validate it with opm.
	@mkdir -p $(CATALOG_DIR)
	@work=$$(mktemp -d); trap 'rm -rf "$$work"' EXIT; set -x; mkdir "$$work/fbc"; \
	$(OPM) render ./bundle --alpha-image-ref-template '$(IMAGE_TAG_BASE)-bundle:v{{.Version}}' --output yaml >"$$work/bundle.yaml"; \
	go run ./hack/catalogtmpl -template $(CATALOG_TEMPLATE) -bundle "$$work/bundle.yaml" -csv $(BUNDLE_CSV) \
		-channel $(BUNDLE_DEFAULT_CHANNEL) -catalog $(CATALOG_DIR)/catalog.yaml -out "$$work/fbc/catalog.yaml"; \
	$(OPM) render "$$work/fbc" --output yaml >$(CATALOG_DIR)/catalog.yaml
	$(OPM) validate catalog

.PHONY: catalog-from-registry
catalog-from-registry: $(OPM) ## Render catalog/ from the template with opm, pulling every bundle image (they must be pushed).
	@mkdir -p $(CATALOG_DIR)
	$(OPM) alpha render-template basic $(CATALOG_TEMPLATE) --output yaml >$(CATALOG_DIR)/catalog.yaml
	$(OPM) validate catalog

# Fails when the committed catalog or its template differ from what `make
# catalog` renders.
.PHONY: verify-catalog
verify-catalog: $(OPM) ## Fail when the committed catalog is stale.
	@snap=$$(mktemp -d); trap 'rm -rf "$$snap"' EXIT; \
	cp -a catalog $(CATALOG_TEMPLATE) "$$snap"/; \
	$(MAKE) --no-print-directory catalog >"$$snap/catalog.log" 2>&1 || { cat "$$snap/catalog.log"; exit 1; }; \
	stale=0; \
	diff -r "$$snap/catalog" catalog || stale=1; \
	diff "$$snap/$$(basename $(CATALOG_TEMPLATE))" $(CATALOG_TEMPLATE) || stale=1; \
	if [ $$stale = 1 ]; then echo "The catalog is stale; run 'make catalog' and commit it and $(CATALOG_TEMPLATE)." >&2; exit 1; fi

.PHONY: catalog-docker-build
catalog-docker-build: ## Build the catalog image CATALOG_IMG with a Docker engine (for a real registry).
	docker build -f catalog.Dockerfile -t $(CATALOG_IMG) .

$(OPM): hack/tools/opm/go.mod
	hack/build-tools.sh opm

##@ OLM on the real node (root only)

# `make bundle-build catalog-build` write the bundle image and the
# file-based catalog image as OCI layout archives (hack/ociimage, no Docker
# engine) under bin/images/, named for the real node's registry
# (realnode.RegistryHost) unless IMG, BUNDLE_IMG and CATALOG_IMG name a
# real registry's images: the bundle's CSV then runs IMG and the catalog
# points at BUNDLE_IMG. The committed bundle/ and catalog/ are not changed:
# they are copied under bin/olm/ and only the image references are set.
OLM_REGISTRY ?= localhost:5000
LOCAL_IMAGE_TAG_BASE := $(OLM_REGISTRY)/ceph-operator/ceph-operator
ifeq ($(origin IMG),file)
BUNDLE_OPERATOR_IMG := $(LOCAL_IMAGE_TAG_BASE):v$(VERSION)
else
BUNDLE_OPERATOR_IMG := $(IMG)
endif
BUNDLE_IMG ?= $(LOCAL_IMAGE_TAG_BASE)-bundle:v$(VERSION)
CATALOG_IMG ?= $(LOCAL_IMAGE_TAG_BASE)-catalog:v$(VERSION)
OLM_DIR := $(BIN)/olm
BUNDLE_IMAGE_TAR := $(IMAGES_DIR)/ceph-operator-bundle.tar
CATALOG_IMAGE_TAR := $(IMAGES_DIR)/ceph-operator-catalog.tar
# The committed bundle runs this image; bundle-build swaps it for
# BUNDLE_OPERATOR_IMG.
COMMITTED_IMG := $(IMAGE_TAG_BASE):v$(VERSION)

.PHONY: olm-tools
olm-tools: ## Build OLM, opm, the registry, CoreDNS and the helper utilities (static) into bin/olm/.
	hack/build-tools.sh olm

# The labels and layout are bundle.Dockerfile's.
.PHONY: bundle-build
bundle-build: $(OCIIMAGE) ## Build the bundle image (bin/images/ceph-operator-bundle.tar) named BUNDLE_IMG, running IMG.
	rm -rf $(OLM_DIR)/bundle && mkdir -p $(OLM_DIR) && cp -a bundle $(OLM_DIR)/bundle
	sed -i 's|$(COMMITTED_IMG)|$(BUNDLE_OPERATOR_IMG)|g' $(OLM_DIR)/bundle/manifests/ceph-operator.clusterserviceversion.yaml
	$(OCIIMAGE) -o $(BUNDLE_IMAGE_TAR) -ref $(BUNDLE_IMG) \
		-file $(OLM_DIR)/bundle/metadata/annotations.yaml:/metadata/annotations.yaml:0644 \
		-file $(OLM_DIR)/bundle/tests/scorecard/config.yaml:/tests/scorecard/config.yaml:0644 \
		$$(for f in $(OLM_DIR)/bundle/manifests/*; do printf -- '-file %s:/manifests/%s:0644 ' $$f $$(basename $$f); done) \
		$$(sed -n 's/^LABEL \(.*\)$$/-label \1/p' bundle.Dockerfile)

# The catalog is rendered as `make catalog` does (the committed template and
# catalog, with the bundle staged by bundle-build under BUNDLE_IMG), and served from /configs with a prebuilt cache, as
# catalog.Dockerfile's image is; the image holds opm and grpc_health_probe
# (bin/olm, static) instead of the upstream opm base image.
.PHONY: catalog-build
catalog-build: $(OPM) $(OCIIMAGE) olm-tools ## Build the catalog image (bin/images/ceph-operator-catalog.tar) named CATALOG_IMG, listing BUNDLE_IMG.
	@test -d $(OLM_DIR)/bundle || { echo "catalog-build: run 'make bundle-build' first" >&2; exit 1; }
	rm -rf $(OLM_DIR)/catalog-root $(OLM_DIR)/catalog-work && mkdir -p $(OLM_DIR)/catalog-root/configs/ceph-operator $(OLM_DIR)/catalog-root/tmp $(OLM_DIR)/catalog-work/fbc
	cp $(CATALOG_TEMPLATE) $(OLM_DIR)/catalog-work/template.yaml
	$(OPM) render $(OLM_DIR)/bundle --alpha-image-ref-template '$(BUNDLE_IMG)' --output yaml >$(OLM_DIR)/catalog-work/bundle.yaml
	go run ./hack/catalogtmpl -template $(OLM_DIR)/catalog-work/template.yaml -bundle $(OLM_DIR)/catalog-work/bundle.yaml \
		-csv $(OLM_DIR)/bundle/manifests/ceph-operator.clusterserviceversion.yaml -channel $(BUNDLE_DEFAULT_CHANNEL) \
		-catalog $(CATALOG_DIR)/catalog.yaml -out $(OLM_DIR)/catalog-work/fbc/catalog.yaml
	$(OPM) render $(OLM_DIR)/catalog-work/fbc --output yaml >$(OLM_DIR)/catalog-root/configs/ceph-operator/catalog.yaml
	$(OPM) validate $(OLM_DIR)/catalog-root/configs
	$(OLM_DIR)/opm serve $(OLM_DIR)/catalog-root/configs --cache-dir=$(OLM_DIR)/catalog-root/tmp/cache --cache-only
	$(OCIIMAGE) -o $(CATALOG_IMAGE_TAR) -ref $(CATALOG_IMG) -rootfs $(OLM_DIR)/catalog-root \
		-file $(OLM_DIR)/opm:/bin/opm:0755 -file $(OLM_DIR)/grpc_health_probe:/bin/grpc_health_probe:0755 \
		-env $(IMAGE_PATH_ENV) -entrypoint '["/bin/opm"]' -cmd '["serve","/configs","--cache-dir=/tmp/cache"]' \
		-label operators.operatorframework.io.index.configs.v1=/configs

.PHONY: test-olm
test-olm: realnode-assets realnode-tools images olm-tools bundle-build catalog-build $(OPERATOR_SDK) $(SCORECARD_TEST) ## OLM for real on the real node: run bundle, Subscription, upgrade, scorecard (root).
	CEPH_OPERATOR_OLM=1 CEPH_TEST_IMG=$(CEPH_TEST_IMG) CEPH_ARCHIVE=$(CEPH_IMAGE_TAR) go test -count=1 -v -timeout 60m ./tests/olm/
