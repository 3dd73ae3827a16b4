package operatorproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// ServiceAccount is the operator's ServiceAccount as the CSV names it.
const ServiceAccount = "ceph-operator-controller-manager"

// InstallRBAC does what OLM does for an OwnNamespace install of the
// bundle: it creates the ServiceAccount, a Role and RoleBinding per entry of
// the CSV's permissions and a ClusterRole and ClusterRoleBinding per entry of
// its clusterPermissions, exactly as the CSV describes them, in namespace
// (which it creates) through the administrator client c. It writes into
// dir, and returns, a kubeconfig made from the administrator kubeconfig
// adminKubeconfig that impersonates the ServiceAccount, so the operator runs
// with the permissions it ships with and nothing more.
func InstallRBAC(ctx context.Context, c client.Client, adminKubeconfig, namespace, dir string) (string, error) {
	csv, err := readCSV()
	if err != nil {
		return "", err
	}
	create := func(obj client.Object) error {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
		return nil
	}
	if err := create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "privileged",
	}}}); err != nil {
		return "", err
	}
	spec := csv.Spec.InstallStrategy.StrategySpec
	accounts := map[string]bool{}
	for i, p := range spec.Permissions {
		accounts[p.ServiceAccountName] = true
		name := fmt.Sprintf("%s-%d", p.ServiceAccountName, i)
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Rules: p.Rules}
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: p.ServiceAccountName, Namespace: namespace}},
		}
		if err := errors.Join(create(role), create(binding)); err != nil {
			return "", err
		}
	}
	for i, p := range spec.ClusterPermissions {
		accounts[p.ServiceAccountName] = true
		name := fmt.Sprintf("e2e-%s-%d", p.ServiceAccountName, i)
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: p.Rules}
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: p.ServiceAccountName, Namespace: namespace}},
		}
		if err := errors.Join(create(role), create(binding)); err != nil {
			return "", err
		}
	}
	if !accounts[ServiceAccount] {
		return "", fmt.Errorf("the CSV grants nothing to %s", ServiceAccount)
	}
	for sa := range accounts {
		if err := create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: namespace}}); err != nil {
			return "", err
		}
	}

	cfg, err := clientcmd.LoadFromFile(adminKubeconfig)
	if err != nil {
		return "", fmt.Errorf("reading kubeconfig: %w", err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:" + namespace + ":" + ServiceAccount
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
	}
	path := filepath.Join(dir, "operator.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("writing kubeconfig: %w", err)
	}
	return path, nil
}

// readCSV reads the bundle's ClusterServiceVersion.
func readCSV() (*operatorsv1alpha1.ClusterServiceVersion, error) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "bundle", "manifests", "ceph-operator.clusterserviceversion.yaml"))
	if err != nil {
		return nil, fmt.Errorf("reading the bundle's CSV: %w", err)
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := yaml.Unmarshal(raw, csv); err != nil {
		return nil, fmt.Errorf("parsing the bundle's CSV: %w", err)
	}
	return csv, nil
}

// rules returns every rule the CSV grants the operator's ServiceAccount,
// namespaced and cluster-wide.
func rules() ([]rbacv1.PolicyRule, error) {
	csv, err := readCSV()
	if err != nil {
		return nil, err
	}
	spec := csv.Spec.InstallStrategy.StrategySpec
	var out []rbacv1.PolicyRule
	for _, p := range append(spec.Permissions, spec.ClusterPermissions...) {
		if p.ServiceAccountName == ServiceAccount {
			out = append(out, p.Rules...)
		}
	}
	return out, nil
}

// runtimeEnv are the Go runtime's settings the bundle's manager container
// sets (GOMEMLIMIT, GOGC), as NAME=value: a test runs the operator with
// the memory settings it is deployed with, so that its figures are the
// deployed operator's.
func runtimeEnv() ([]string, error) {
	csv, err := readCSV()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != "manager" {
				continue
			}
			for _, e := range c.Env {
				if (e.Name == "GOMEMLIMIT" || e.Name == "GOGC") && e.ValueFrom == nil {
					out = append(out, e.Name+"="+e.Value)
				}
			}
		}
	}
	return out, nil
}
