package main

import (
	"fmt"
	"regexp"
	"strings"
)

// reference is a fully qualified image name: registry host, repository
// path and tag, as in quay.io/ceph-operator/ceph-operator:v0.1.0.
type reference struct {
	Domain, Path, Tag string
}

func (r reference) String() string {
	return r.Domain + "/" + r.Path + ":" + r.Tag
}

var (
	// A registry host: DNS labels separated by dots, optionally a port.
	domainRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?$`)
	// One repository path component.
	componentRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
	tagRE       = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$`)
)

// parseReference accepts only a fully qualified reference with a tag. The
// kubelet and the CRI plugin normalise a short name ("ceph/ceph:v18",
// "busybox") to docker.io/..., so an image imported under a short name is
// not found by a pod that names it; refusing short names here keeps the
// name in the pod spec and the name in containerd the same string.
func parseReference(s string) (reference, error) {
	bad := func(why string) (reference, error) {
		return reference{}, fmt.Errorf("image reference %q %s; want a fully qualified name such as docker.io/library/name:tag", s, why)
	}
	if strings.Contains(s, "@") {
		return bad("has a digest")
	}
	slash := strings.Index(s, "/")
	if slash < 0 {
		return bad("has no registry host")
	}
	domain, rest := s[:slash], s[slash+1:]
	if !strings.ContainsAny(domain, ".:") && domain != "localhost" {
		return bad("has no registry host")
	}
	if !domainRE.MatchString(domain) {
		return bad("has an invalid registry host")
	}
	colon := strings.LastIndex(rest, ":")
	if colon < 0 {
		return bad("has no tag")
	}
	p, tag := rest[:colon], rest[colon+1:]
	if !tagRE.MatchString(tag) {
		return bad("has an invalid tag")
	}
	for _, c := range strings.Split(p, "/") {
		if !componentRE.MatchString(c) {
			return bad("has an invalid repository path")
		}
	}
	if domain == "docker.io" && !strings.Contains(p, "/") {
		// docker.io/busybox is docker.io/library/busybox to the kubelet.
		return bad("names an official Docker Hub image without library/")
	}
	return reference{Domain: domain, Path: p, Tag: tag}, nil
}
