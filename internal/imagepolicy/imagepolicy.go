// Package imagepolicy decides which container images a CephCluster may run.
// Whoever can write a CephCluster chooses spec.image, and that image runs
// privileged on every selected node; an operator started with an allow-list
// runs only images the list names.
package imagepolicy

import (
	"fmt"
	"regexp"
	"strings"
)

// Policy is a list of rules; an image is allowed when any rule matches it.
// The zero Policy (no rules) allows every image.
type Policy struct {
	rules []rule
}

type ruleKind int

const (
	// anyDigest matches every image pinned to one digest: "@sha256:<hex>".
	anyDigest ruleKind = iota
	// exact matches one image reference exactly: "repo@sha256:<hex>" or
	// "repo:tag".
	exact
	// underPrefix matches every image whose repository lies below a path:
	// "registry.example.com/ceph/".
	underPrefix
	// repository matches every tag and digest of one repository:
	// "quay.io/ceph/ceph".
	repository
)

type rule struct {
	kind ruleKind
	text string
}

var (
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// refRE is what spec.image admits, so a rule that could never match
	// is refused when the operator starts.
	refRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$`)
)

// Parse reads a comma-separated list of rules. Each rule is one of:
//
//	@sha256:<64 hex>          any image pinned to this digest
//	<repository>@sha256:<hex> exactly this image
//	<repository>:<tag>        exactly this tag (tags can be moved: prefer digests)
//	<path>/                   any image whose repository lies below <path>
//	<repository>              any tag or digest of exactly this repository
//
// Rules are compared with spec.image as written: "ceph/ceph" and
// "docker.io/ceph/ceph" are different repositories. An empty list allows
// every image.
func Parse(list string) (Policy, error) {
	var p Policy
	for _, raw := range strings.Split(list, ",") {
		text := strings.TrimSpace(raw)
		if text == "" {
			continue
		}
		r, err := parseRule(text)
		if err != nil {
			return Policy{}, err
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

func parseRule(text string) (rule, error) {
	if d, ok := strings.CutPrefix(text, "@"); ok {
		if !digestRE.MatchString(d) {
			return rule{}, fmt.Errorf("allowed image %q: a digest rule is @sha256: and 64 lowercase hex digits", text)
		}
		return rule{anyDigest, d}, nil
	}
	if !refRE.MatchString(text) {
		return rule{}, fmt.Errorf("allowed image %q: not an image reference", text)
	}
	if repo, d, ok := strings.Cut(text, "@"); ok {
		if !digestRE.MatchString(d) || repo == "" {
			return rule{}, fmt.Errorf("allowed image %q: a pinned image is <repository>@sha256: and 64 lowercase hex digits", text)
		}
		return rule{exact, text}, nil
	}
	if strings.HasSuffix(text, "/") {
		if strings.Contains(text, "//") {
			return rule{}, fmt.Errorf("allowed image %q: empty path segment", text)
		}
		return rule{underPrefix, text}, nil
	}
	if _, tag := splitTag(text); tag != "" {
		return rule{exact, text}, nil
	}
	return rule{repository, text}, nil
}

// splitTag splits "repo:tag" into repo and tag; a ':' before the last '/'
// is a registry's port, not a tag.
func splitTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || i < strings.LastIndex(ref, "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// parts splits an image reference into its repository, tag and digest.
func parts(image string) (repo, tag, digest string) {
	name, digest, _ := strings.Cut(image, "@")
	repo, tag = splitTag(name)
	return repo, tag, digest
}

// AllowAll reports whether the policy has no rules.
func (p Policy) AllowAll() bool { return len(p.rules) == 0 }

// String lists the rules as given.
func (p Policy) String() string {
	if p.AllowAll() {
		return "every image"
	}
	s := make([]string, len(p.rules))
	for i, r := range p.rules {
		if r.kind == anyDigest {
			s[i] = "@" + r.text
		} else {
			s[i] = r.text
		}
	}
	return strings.Join(s, ", ")
}

// Check returns nil when image is allowed, otherwise an error that names the
// image and the rules it failed.
func (p Policy) Check(image string) error {
	if p.AllowAll() {
		return nil
	}
	repo, tag, digest := parts(image)
	for _, r := range p.rules {
		switch r.kind {
		case anyDigest:
			if digest == r.text {
				return nil
			}
		case exact:
			name := repo
			if tag != "" {
				name += ":" + tag
			}
			if image == r.text || (!strings.Contains(r.text, "@") && name == r.text) {
				return nil
			}
		case underPrefix:
			if strings.HasPrefix(repo, r.text) {
				return nil
			}
		case repository:
			if repo == r.text {
				return nil
			}
		}
	}
	return fmt.Errorf("spec.image %s is not allowed: the operator runs only images matching its --allowed-images list (%s)", image, p)
}
