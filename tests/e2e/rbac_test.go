package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// operatorSA is the operator's ServiceAccount as the manifests name it.
const operatorSA = "ceph-operator-controller-manager"

// installOperatorRBAC creates the namespace, ServiceAccount, Roles,
// ClusterRoles and bindings of config/default (as `make deploy` would), and
// returns a kubeconfig that impersonates the operator's ServiceAccount, so
// the operator runs with exactly the permissions it ships with.
func installOperatorRBAC(ctx context.Context, dir string) (string, error) {
	root := testenv.RepoRoot()
	out, err := exec.Command(filepath.Join(root, "bin", "kustomize"), "build", filepath.Join(root, "config", "default")).Output()
	if err != nil {
		return "", fmt.Errorf("kustomize build config/default (run 'make test', which builds bin/kustomize): %w", err)
	}
	keep := map[string]bool{"Namespace": true, "ServiceAccount": true, "Role": true, "RoleBinding": true, "ClusterRole": true, "ClusterRoleBinding": true}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			break
		}
		if !keep[obj.GetKind()] {
			continue
		}
		if err := cp.Client.Create(ctx, obj); err != nil {
			return "", fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}

	cfg, err := clientcmd.LoadFromFile(cp.Kubeconfig)
	if err != nil {
		return "", fmt.Errorf("reading kubeconfig: %w", err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:" + namespace + ":" + operatorSA
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
	}
	path := filepath.Join(dir, "operator.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("writing kubeconfig: %w", err)
	}
	return path, nil
}
