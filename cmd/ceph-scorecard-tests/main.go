// Command ceph-scorecard-tests is the entry point of the operator's custom
// scorecard tests: `ceph-scorecard-tests <test>` runs one test against the
// cluster (in-cluster config, or $KUBECONFIG) and prints its scorecard
// v1alpha3 TestStatus as JSON. The scorecard sets $SCORECARD_NAMESPACE and
// mounts the bundle at /bundle.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/scorecard"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: ceph-scorecard-tests <%s|%s|%s>\n",
			scorecard.CephClusterBecomesReady, scorecard.DisksDiscovered, scorecard.OSDsProvisioned)
		os.Exit(2)
	}
	status := run(os.Args[1])
	out, err := json.MarshalIndent(status, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

func run(name string) scapiv1alpha3.TestStatus {
	fail := func(err error) scapiv1alpha3.TestStatus {
		return scapiv1alpha3.TestStatus{Results: []scapiv1alpha3.TestResult{{Name: name, State: scapiv1alpha3.ErrorState, Errors: []string{err.Error()}}}}
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return fail(err)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = cephv1alpha1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fail(err)
	}
	ns := os.Getenv("SCORECARD_NAMESPACE")
	if ns == "" {
		return fail(fmt.Errorf("SCORECARD_NAMESPACE is not set"))
	}
	bundle := os.Getenv("SCORECARD_BUNDLE_DIR")
	if bundle == "" {
		bundle = "/bundle"
	}
	timeout := 5 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("SCORECARD_TEST_TIMEOUT")); err == nil {
		timeout = d
	}
	return scorecard.Run(context.Background(), name, scorecard.Env{Client: c, Namespace: ns, BundleDir: bundle, Timeout: timeout})
}
