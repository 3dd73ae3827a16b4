// Package scorecard holds the operator's custom scorecard tests: checks that
// a CephCluster made from the bundle's example becomes Ready, that every
// selected node's disks are discovered with a verdict, and that every
// available disk becomes an OSD. cmd/ wraps them in the binary the scorecard
// runs, which prints scorecard v1alpha3 TestStatus JSON.
package scorecard

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Test names, as the scorecard configuration lists them.
const (
	CephClusterBecomesReady = "cephcluster-becomes-ready"
	DisksDiscovered         = "disks-discovered"
	OSDsProvisioned         = "osds-provisioned"
)

// Env is what a test works with.
type Env struct {
	// Client talks to the cluster under test.
	Client client.Client
	// Namespace is where the operator runs and the CephCluster lives.
	Namespace string
	// BundleDir is the bundle (/bundle in the scorecard's pod).
	BundleDir string
	// Timeout bounds each test's wait.
	Timeout time.Duration
}

// Run runs the named test and returns its result.
func Run(ctx context.Context, name string, e Env) scapiv1alpha3.TestStatus {
	checks := map[string]func(context.Context, Env) (string, error){
		CephClusterBecomesReady: becomesReady,
		DisksDiscovered:         disksDiscovered,
		OSDsProvisioned:         osdsProvisioned,
	}
	r := scapiv1alpha3.TestResult{Name: name, State: scapiv1alpha3.PassState, CreationTimestamp: metav1.Now()}
	check, ok := checks[name]
	if !ok {
		r.State, r.Errors = scapiv1alpha3.ErrorState, []string{fmt.Sprintf("unknown test %q", name)}
		return scapiv1alpha3.TestStatus{Results: []scapiv1alpha3.TestResult{r}}
	}
	log, err := check(ctx, e)
	r.Log = log
	if err != nil {
		r.State, r.Errors = scapiv1alpha3.FailState, []string{err.Error()}
	}
	return scapiv1alpha3.TestStatus{Results: []scapiv1alpha3.TestResult{r}}
}

// becomesReady creates the CephCluster of the bundle's alm-examples (unless
// one exists) and waits until it is Ready for its generation. The example
// only previews; like a user who has read the plan, the test waits until
// every disk has one, then switches provisioning to Enabled.
func becomesReady(ctx context.Context, e Env) (string, error) {
	cluster, err := ensureCluster(ctx, e)
	if err != nil {
		return "", err
	}
	previewed := ""
	if cluster.Spec.Storage.Provisioning == cephv1alpha1.ProvisioningPreview {
		if previewed, err = enableAfterPreview(ctx, e, cluster); err != nil {
			return "", err
		}
	}
	var last *cephv1alpha1.CephCluster
	err = poll(ctx, e.Timeout, func() (bool, error) {
		last = &cephv1alpha1.CephCluster{}
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(cluster), last); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(last.Status.Conditions, cephv1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && last.Status.ObservedGeneration == last.Generation, nil
	})
	if err != nil {
		return "", fmt.Errorf("CephCluster %s not Ready within %s: %s", cluster.Name, e.Timeout, readyMessage(last))
	}
	return fmt.Sprintf("%sCephCluster %s is Ready: %d nodes, %d disks, %d OSDs running", previewed, cluster.Name,
		last.Status.Nodes, last.Status.Disks.Discovered, last.Status.OSDs.Running), nil
}

// enableAfterPreview waits until cluster's disks are discovered and every
// disk of every inventory has a plan, then sets provisioning to Enabled.
// It returns what the preview showed.
func enableAfterPreview(ctx context.Context, e Env, cluster *cephv1alpha1.CephCluster) (string, error) {
	would, planned := 0, 0
	last := &cephv1alpha1.CephCluster{}
	err := poll(ctx, e.Timeout, func() (bool, error) {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(cluster), last); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(last.Status.Conditions, cephv1alpha1.ConditionDisksDiscovered)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != last.Generation {
			return false, nil
		}
		var invs cephv1alpha1.DiskInventoryList
		if err := e.Client.List(ctx, &invs, client.InNamespace(e.Namespace)); err != nil {
			return false, err
		}
		would, planned = 0, 0
		for _, inv := range invs.Items {
			if len(inv.Status.Plan) < len(inv.Status.Disks) {
				return false, nil
			}
			for _, p := range inv.Status.Plan {
				planned++
				if p.Action == cephv1alpha1.ActionWouldProvision {
					would++
				}
			}
		}
		return len(invs.Items) > 0, nil
	})
	if err != nil {
		return "", fmt.Errorf("the preview of CephCluster %s showed no plan within %s: %s", cluster.Name, e.Timeout, readyMessage(last))
	}
	patch := client.MergeFrom(last.DeepCopy())
	last.Spec.Storage.Provisioning = cephv1alpha1.ProvisioningEnabled
	if err := e.Client.Patch(ctx, last, patch); err != nil {
		return "", fmt.Errorf("enabling provisioning after the preview: %w", err)
	}
	return fmt.Sprintf("the preview planned %d disks (%d would be provisioned), then provisioning was enabled; ", planned, would), nil
}

// disksDiscovered checks that every selected node has published an inventory
// and that every disk in it has a verdict (and a reason when rejected).
func disksDiscovered(ctx context.Context, e Env) (string, error) {
	cluster, err := onlyCluster(ctx, e)
	if err != nil {
		return "", err
	}
	var invs cephv1alpha1.DiskInventoryList
	if err := e.Client.List(ctx, &invs, client.InNamespace(e.Namespace)); err != nil {
		return "", err
	}
	if int32(len(invs.Items)) != cluster.Status.Nodes || len(invs.Items) == 0 {
		return "", fmt.Errorf("%d DiskInventories for %d selected nodes", len(invs.Items), cluster.Status.Nodes)
	}
	disks := 0
	for _, inv := range invs.Items {
		if inv.Status.LastScanTime == nil {
			return "", fmt.Errorf("node %s has not published its inventory", inv.Name)
		}
		for _, d := range inv.Status.Disks {
			disks++
			switch d.Verdict.State {
			case cephv1alpha1.DiskAvailable, cephv1alpha1.DiskOSD:
			case cephv1alpha1.DiskRejected:
				if d.Verdict.Reason == "" || d.Verdict.Message == "" {
					return "", fmt.Errorf("disk %s of node %s is rejected without a reason and message", d.Name, inv.Name)
				}
			default:
				return "", fmt.Errorf("disk %s of node %s has no verdict", d.Name, inv.Name)
			}
		}
	}
	return fmt.Sprintf("%d nodes, %d disks, each with a verdict", len(invs.Items), disks), nil
}

// osdsProvisioned checks that every disk found available became an OSD: no
// disk is left Available, and each OSD disk has an OSD Deployment.
func osdsProvisioned(ctx context.Context, e Env) (string, error) {
	if _, err := onlyCluster(ctx, e); err != nil {
		return "", err
	}
	var problems []string
	osds := 0
	err := poll(ctx, e.Timeout, func() (bool, error) {
		problems, osds = nil, 0
		var invs cephv1alpha1.DiskInventoryList
		if err := e.Client.List(ctx, &invs, client.InNamespace(e.Namespace)); err != nil {
			return false, err
		}
		deployed, err := osdDeployments(ctx, e)
		if err != nil {
			return false, err
		}
		for _, inv := range invs.Items {
			for _, d := range inv.Status.Disks {
				switch {
				case d.Verdict.State == cephv1alpha1.DiskAvailable:
					problems = append(problems, fmt.Sprintf("%s/%s is still Available", inv.Name, d.Name))
				case d.Verdict.State == cephv1alpha1.DiskOSD && d.Verdict.OSDID != nil:
					osds++
					if !deployed[*d.Verdict.OSDID] {
						problems = append(problems, fmt.Sprintf("OSD %d on %s/%s has no Deployment", *d.Verdict.OSDID, inv.Name, d.Name))
					}
				}
			}
		}
		return len(problems) == 0 && osds > 0, nil
	})
	if err != nil {
		return "", fmt.Errorf("not every available disk became an OSD within %s: %v (%d OSDs)", e.Timeout, problems, osds)
	}
	return fmt.Sprintf("%d OSDs, each with its Deployment; no disk left Available", osds), nil
}

// osdDeployments returns the OSD ids that have a Deployment.
func osdDeployments(ctx context.Context, e Env) (map[int32]bool, error) {
	var list unstructured.UnstructuredList
	list.SetAPIVersion("apps/v1")
	list.SetKind("DeploymentList")
	if err := e.Client.List(ctx, &list, client.InNamespace(e.Namespace), client.HasLabels{"ceph.cephoperator.io/osd-id"}); err != nil {
		return nil, err
	}
	out := map[int32]bool{}
	for _, d := range list.Items {
		var id int32
		if _, err := fmt.Sscan(d.GetLabels()["ceph.cephoperator.io/osd-id"], &id); err == nil {
			out[id] = true
		}
	}
	return out, nil
}

// ensureCluster returns the namespace's CephCluster, creating the bundle's
// example when there is none.
func ensureCluster(ctx context.Context, e Env) (*cephv1alpha1.CephCluster, error) {
	var list cephv1alpha1.CephClusterList
	if err := e.Client.List(ctx, &list, client.InNamespace(e.Namespace)); err != nil {
		return nil, err
	}
	if len(list.Items) > 0 {
		return &list.Items[0], nil
	}
	cluster, err := exampleCluster(e.BundleDir)
	if err != nil {
		return nil, err
	}
	cluster.Namespace = e.Namespace
	if err := e.Client.Create(ctx, cluster); err != nil {
		return nil, fmt.Errorf("creating the example CephCluster: %w", err)
	}
	return cluster, nil
}

// onlyCluster returns the namespace's CephCluster once it has been reconciled.
func onlyCluster(ctx context.Context, e Env) (*cephv1alpha1.CephCluster, error) {
	var list cephv1alpha1.CephClusterList
	if err := e.Client.List(ctx, &list, client.InNamespace(e.Namespace)); err != nil {
		return nil, err
	}
	if len(list.Items) != 1 {
		return nil, fmt.Errorf("%d CephClusters in %s; run %s first", len(list.Items), e.Namespace, CephClusterBecomesReady)
	}
	return &list.Items[0], nil
}

// exampleCluster reads the CephCluster of the CSV's alm-examples.
func exampleCluster(bundleDir string) (*cephv1alpha1.CephCluster, error) {
	matches, _ := filepath.Glob(filepath.Join(bundleDir, "manifests", "*.clusterserviceversion.yaml"))
	if len(matches) != 1 {
		return nil, fmt.Errorf("no CSV in %s/manifests", bundleDir)
	}
	raw, err := os.ReadFile(matches[0])
	if err != nil {
		return nil, err
	}
	var csv struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(raw, &csv); err != nil {
		return nil, fmt.Errorf("reading %s: %w", matches[0], err)
	}
	var examples []cephv1alpha1.CephCluster
	// Only the CephCluster examples decode cleanly into the type; the kind
	// tells them apart.
	var generic []map[string]any
	if err := json.Unmarshal([]byte(csv.Metadata.Annotations["alm-examples"]), &generic); err != nil {
		return nil, fmt.Errorf("reading alm-examples: %w", err)
	}
	for _, g := range generic {
		if g["kind"] != "CephCluster" {
			continue
		}
		b, _ := json.Marshal(g)
		var c cephv1alpha1.CephCluster
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, err
		}
		examples = append(examples, c)
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("alm-examples has no CephCluster")
	}
	return &examples[0], nil
}

// poll calls done every second until it returns true or timeout passes.
func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func readyMessage(c *cephv1alpha1.CephCluster) string {
	if c == nil {
		return "not found"
	}
	if r := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionReady); r != nil {
		return r.Reason + ": " + r.Message
	}
	return "no Ready condition"
}
