package olm

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// The versions the images carry; they are those pinned in hack/tools.
const (
	olmVersion       = "v0.46.0"
	opmVersion       = "v1.61.0"
	registryVersion  = "v3.1.2"
	corednsVersion   = "v1.15.0"
	scorecardVersion = "v1.42.3"
	operatorVersion  = "v0.1.0"
)

// Image references. Everything but the registry itself is served by the
// node's registry at realnode.RegistryHost, so the kubelet pulls it as it
// would from any registry; the registry's own image is imported.
var (
	registryImage       = "localhost/ceph-operator/registry:" + registryVersion
	olmImage            = realnode.RegistryHost + "/operator-framework/olm:" + olmVersion
	opmImage            = realnode.RegistryHost + "/operator-framework/opm:" + opmVersion
	corednsImage        = realnode.RegistryHost + "/coredns/coredns:" + corednsVersion
	scorecardTestImage  = realnode.RegistryHost + "/operator-framework/scorecard-test:" + scorecardVersion
	scorecardUntarImage = realnode.RegistryHost + "/operator-framework/scorecard-untar:local"
	customTestsImage    = realnode.RegistryHost + "/ceph-operator/ceph-operator-scorecard-tests:" + operatorVersion
	operatorImage       = realnode.RegistryHost + "/ceph-operator/ceph-operator:" + operatorVersion
	bundleImage         = realnode.RegistryHost + "/ceph-operator/ceph-operator-bundle:" + operatorVersion
	catalogImage        = realnode.RegistryHost + "/ceph-operator/ceph-operator-catalog:" + operatorVersion
	// The upgrade's second release.
	bundleImageV2  = realnode.RegistryHost + "/ceph-operator/ceph-operator-bundle:v0.2.0"
	catalogImageV2 = realnode.RegistryHost + "/ceph-operator/ceph-operator-catalog:v0.2.0"
)

// imageSpec is one image packed by hack/ociimage from files in bin/.
type imageSpec struct {
	ref  string
	args []string
}

// paths names the build outputs the images are made of.
type paths struct {
	root, bin, olm, images, work string
}

func newPaths(work string) paths {
	root := testenv.RepoRoot()
	bin := filepath.Join(root, "bin")
	return paths{root: root, bin: bin, olm: filepath.Join(bin, "olm"), images: filepath.Join(bin, "images"), work: work}
}

// file is an -file argument for a root-owned file.
func file(src, dst, mode string) []string { return []string{"-file", src + ":" + dst + ":" + mode} }

func jsonArg(v []string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const pathEnv = "PATH=/bin:/usr/local/bin:/usr/bin"

// imageSpecs lists the images built here (the operator, bundle and catalog
// images come from make image-operator, bundle-build and catalog-build).
func imageSpecs(p paths, registryConfig, untar, gzip, customTests string) []imageSpec {
	o := func(name string) string { return filepath.Join(p.olm, name) }
	var olmArgs []string
	// As OLM's own image: its binaries in /bin, cp for the bundle unpack
	// Jobs, user 1001, olm as the entry point.
	for _, b := range []string{"olm", "catalog", "package-server", "copy-content", "cpb", "cp"} {
		olmArgs = append(olmArgs, file(o(b), "/bin/"+b, "0755")...)
	}
	olmArgs = append(olmArgs, "-env", pathEnv, "-user", "1001", "-entrypoint", jsonArg([]string{"/bin/olm"}))

	// opm, grpc_health_probe, and what operator-sdk runs in it with
	// `sh -c` (opm serve; the decompression init container's cat and
	// gzip). It is an empty file-based catalog, like upstream's opm image
	// that `run bundle` defaults to.
	opmArgs := append(file(o("opm"), "/bin/opm", "0755"), file(o("grpc_health_probe"), "/bin/grpc_health_probe", "0755")...)
	opmArgs = append(opmArgs, file(o("gosh"), "/bin/sh", "0755")...)
	opmArgs = append(opmArgs, file(o("cat"), "/bin/cat", "0755")...)
	opmArgs = append(opmArgs, file(gzip, "/bin/gzip", "0755")...)
	opmArgs = append(opmArgs, "-dir", "/configs", "-dir", "/tmp:1777", "-env", pathEnv,
		"-label", "operators.operatorframework.io.index.configs.v1=/configs",
		"-entrypoint", jsonArg([]string{"/bin/opm"}))

	return []imageSpec{
		{ref: registryImage, args: append(append(file(o("registry"), "/bin/registry", "0755"),
			file(registryConfig, "/etc/distribution/config.yml", "0644")...),
			"-entrypoint", jsonArg([]string{"/bin/registry", "serve", "/etc/distribution/config.yml"}))},
		{ref: olmImage, args: olmArgs},
		{ref: opmImage, args: opmArgs},
		{ref: corednsImage, args: append(file(o("coredns"), "/coredns", "0755"), "-entrypoint", jsonArg([]string{"/coredns"}))},
		{ref: scorecardTestImage, args: append(file(filepath.Join(p.bin, "scorecard-test"), "/usr/local/bin/scorecard-test", "0755"),
			"-env", "PATH=/usr/local/bin:/bin", "-user", "65532:65532", "-dir", "/tmp:1777")},
		{ref: scorecardUntarImage, args: append(file(untar, "/bin/tar", "0755"), "-env", pathEnv)},
		{ref: customTestsImage, args: append(file(customTests, "/usr/local/bin/ceph-scorecard-tests", "0755"),
			"-env", "PATH=/usr/local/bin:/bin", "-user", "65532:65532",
			"-entrypoint", jsonArg([]string{"/usr/local/bin/ceph-scorecard-tests"}))},
	}
}

// registryConfigYAML is the registry's configuration: TLS on loopback with
// the key pair the node issued (mounted from a Secret), content in an
// emptyDir.
const registryConfigYAML = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
  tls:
    certificate: /certs/tls.crt
    key: /certs/tls.key
`

// run runs a command in the repository root with extra environment.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// buildImages builds the helper programs of this package and packs every
// image of imageSpecs into work/images/.
func buildImages(ctx context.Context, p paths) (map[string]string, error) {
	for _, f := range []string{"olm", "catalog", "package-server", "copy-content", "cpb", "cp", "opm", "grpc_health_probe", "gosh", "cat", "registry", "coredns"} {
		if _, err := os.Stat(filepath.Join(p.olm, f)); err != nil {
			return nil, fmt.Errorf("%w: run 'make olm-tools'", err)
		}
	}
	dir := filepath.Join(p.work, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	untar := filepath.Join(dir, "untar")
	gzip := filepath.Join(dir, "gzip")
	customTests := filepath.Join(dir, "ceph-scorecard-tests")
	for pkg, out := range map[string]string{"./tests/olm/untar": untar, "./tests/olm/gzip": gzip, "./cmd/ceph-scorecard-tests": customTests} {
		if _, err := run(ctx, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(dir, "registry-config.yml")
	if err := os.WriteFile(cfg, []byte(registryConfigYAML), 0o644); err != nil {
		return nil, err
	}
	archives := map[string]string{}
	for _, s := range imageSpecs(p, cfg, untar, gzip, customTests) {
		name := strings.NewReplacer("/", "_", ":", "_").Replace(s.ref)
		archive := filepath.Join(dir, name+".tar")
		args := append([]string{"-o", archive, "-ref", s.ref}, s.args...)
		if _, err := run(ctx, nil, filepath.Join(p.bin, "ociimage"), args...); err != nil {
			return nil, err
		}
		archives[s.ref] = archive
	}
	return archives, nil
}

// push imports an archive into the node's containerd, tags the image as
// ref when the archive names it differently, and pushes it to the node's
// registry over TLS (the node's CA).
func push(ctx context.Context, c *realnode.Cluster, archive, archiveRef, ref string) error {
	if err := c.ImportImage(ctx, archive); err != nil {
		return err
	}
	if archiveRef != ref {
		if out, err := c.Ctr(ctx, "images", "tag", "--force", archiveRef, ref).CombinedOutput(); err != nil {
			return fmt.Errorf("tagging %s as %s: %w: %s", archiveRef, ref, err, out)
		}
	}
	if out, err := c.Ctr(ctx, "images", "push", "--hosts-dir", c.RegistryHostsDir, ref).CombinedOutput(); err != nil {
		return fmt.Errorf("pushing %s: %w: %s", ref, err, out)
	}
	return nil
}
