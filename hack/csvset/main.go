// Command csvset finishes the CSV that `operator-sdk generate bundle` wrote:
// it sets the values `make bundle` takes from variables (the upgrade edges,
// the minimum Kubernetes version) and makes every reference to the
// operator's image one value: the manager container's image, whatever
// IMG or digest pinning made it. The console's first-click resource
// (operatorframework.io/initialization-resource) is the CSV's CephCluster
// example, so that it names the same Ceph image, tag or digest.
//
//	csvset -csv bundle/manifests/ceph-operator.clusterserviceversion.yaml \
//	  -min-kube-version 1.33.0 [-replaces ceph-operator.v0.1.0] [-skip-range '<0.2.0']
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// managerContainer is the operator's container in the CSV's Deployment.
const managerContainer = "manager"

// initializationResource is the annotation naming the resource the console
// offers to create right after install.
const initializationResource = "operatorframework.io/initialization-resource"

// clusterKind is the kind of the example that becomes the first-click
// resource.
const clusterKind = "CephCluster"

// operatorImageEnv is the manager's environment variable naming its own
// image (internal/manager.OperatorImageEnv).
const operatorImageEnv = "RELATED_IMAGE_OPERATOR"

func main() {
	path := flag.String("csv", "", "the ClusterServiceVersion file to edit in place")
	minKube := flag.String("min-kube-version", "", "spec.minKubeVersion")
	replaces := flag.String("replaces", "", "spec.replaces: the CSV name this release upgrades from (empty: none)")
	skipRange := flag.String("skip-range", "", "the olm.skipRange annotation: the versions this release replaces directly (empty: none)")
	flag.Parse()
	if err := run(*path, *minKube, *replaces, *skipRange); err != nil {
		fmt.Fprintln(os.Stderr, "csvset:", err)
		os.Exit(1)
	}
}

func run(path, minKube, replaces, skipRange string) error {
	if path == "" || minKube == "" {
		return errors.New("-csv and -min-kube-version are required")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var csv map[string]any
	if err := yaml.Unmarshal(raw, &csv); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := edit(csv, minKube, replaces, skipRange); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	out, err := yaml.Marshal(csv)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// edit applies the values to csv, a ClusterServiceVersion as decoded YAML.
func edit(csv map[string]any, minKube, replaces, skipRange string) error {
	meta, err := object(csv, "metadata")
	if err != nil {
		return err
	}
	annotations, err := object(meta, "annotations")
	if err != nil {
		return err
	}
	spec, err := object(csv, "spec")
	if err != nil {
		return err
	}
	spec["minKubeVersion"] = minKube
	setOrDelete(spec, "replaces", replaces)
	setOrDelete(annotations, "olm.skipRange", skipRange)

	image, env, err := managerImage(spec)
	if err != nil {
		return err
	}
	if env != image {
		return fmt.Errorf("the manager's %s is %q but its image is %q; they must be one reference", operatorImageEnv, env, image)
	}
	annotations["containerImage"] = image

	first, err := clusterExample(annotations)
	if err != nil {
		return err
	}
	annotations[initializationResource] = first
	dedupRelatedImages(spec)
	return nil
}

// dedupRelatedImages keeps one entry per image in spec.relatedImages, in
// the order the images first appear. Digest pinning adds an entry for
// each place an image appears (the manager container, an annotation) next
// to those OLM derives from the manager's RELATED_IMAGE_<NAME> variables,
// in no fixed order: the entry named after such a variable (<name> in
// lower case) is the one kept, else the first.
func dedupRelatedImages(spec map[string]any) {
	related, ok := spec["relatedImages"].([]any)
	if !ok {
		return
	}
	preferred := map[string]bool{}
	for _, name := range relatedImageEnvNames(spec) {
		preferred[name] = true
	}
	index := map[string]int{}
	var kept []any
	for _, r := range related {
		entry, _ := r.(map[string]any)
		image, _ := entry["image"].(string)
		name, _ := entry["name"].(string)
		i, seen := index[image]
		switch {
		case !seen:
			index[image] = len(kept)
			kept = append(kept, r)
		case preferred[name]:
			prev, _ := kept[i].(map[string]any)
			if prevName, _ := prev["name"].(string); !preferred[prevName] {
				kept[i] = r
			}
		}
	}
	spec["relatedImages"] = kept
}

// relatedImageEnvNames returns <name> in lower case for every
// RELATED_IMAGE_<NAME> variable of the manager container.
func relatedImageEnvNames(spec map[string]any) []string {
	container, err := manager(spec)
	if err != nil {
		return nil
	}
	var names []string
	for n := range envVars(container) {
		if strings.HasPrefix(n, "RELATED_IMAGE_") {
			names = append(names, strings.ToLower(strings.TrimPrefix(n, "RELATED_IMAGE_")))
		}
	}
	return names
}

// clusterExample returns the CephCluster of the alm-examples annotation as
// compact JSON.
func clusterExample(annotations map[string]any) (string, error) {
	raw, _ := annotations["alm-examples"].(string)
	var examples []map[string]any
	if err := json.Unmarshal([]byte(raw), &examples); err != nil {
		return "", fmt.Errorf("alm-examples: %w", err)
	}
	for _, ex := range examples {
		if ex["kind"] == clusterKind {
			out, err := json.Marshal(ex)
			return string(out), err
		}
	}
	return "", fmt.Errorf("alm-examples has no %s for %s", clusterKind, initializationResource)
}

// managerImage returns the manager container's image and the value of its
// operatorImageEnv variable, from the CSV's install strategy.
func managerImage(spec map[string]any) (image, env string, err error) {
	container, err := manager(spec)
	if err != nil {
		return "", "", err
	}
	image, _ = container["image"].(string)
	if image == "" {
		return "", "", errors.New("the manager container has no image")
	}
	return image, envVars(container)[operatorImageEnv], nil
}

// manager returns the manager container of the CSV's install strategy.
func manager(spec map[string]any) (map[string]any, error) {
	install, err := object(spec, "install")
	if err != nil {
		return nil, err
	}
	strategy, err := object(install, "spec")
	if err != nil {
		return nil, err
	}
	deployments, _ := strategy["deployments"].([]any)
	for _, d := range deployments {
		dep, _ := d.(map[string]any)
		s, _ := dep["spec"].(map[string]any)
		tmpl, _ := s["template"].(map[string]any)
		pod, _ := tmpl["spec"].(map[string]any)
		containers, _ := pod["containers"].([]any)
		for _, c := range containers {
			if container, _ := c.(map[string]any); container["name"] == managerContainer {
				return container, nil
			}
		}
	}
	return nil, fmt.Errorf("no Deployment in the install strategy has a %q container", managerContainer)
}

// envVars returns a container's environment variables that have a value.
func envVars(container map[string]any) map[string]string {
	out := map[string]string{}
	vars, _ := container["env"].([]any)
	for _, v := range vars {
		ev, _ := v.(map[string]any)
		name, _ := ev["name"].(string)
		if value, ok := ev["value"].(string); ok {
			out[name] = value
		}
	}
	return out
}

// object returns m[key] as an object, creating it when absent.
func object(m map[string]any, key string) (map[string]any, error) {
	switch v := m[key].(type) {
	case map[string]any:
		return v, nil
	case nil:
		o := map[string]any{}
		m[key] = o
		return o, nil
	default:
		return nil, fmt.Errorf("%s is a %T, not an object", key, v)
	}
}

func setOrDelete(m map[string]any, key, value string) {
	if value == "" {
		delete(m, key)
		return
	}
	m[key] = value
}
