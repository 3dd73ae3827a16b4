package ceph

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// Version is a Ceph release version, major.minor.patch.
type Version struct {
	Major, Minor, Patch int
}

// MinSupportedVersion is the oldest Ceph release the operator runs: 16.2
// (Pacific), the first whose ceph-volume has raw activate --no-tmpfs and
// whose monitors accept every option the operator writes to ceph.conf.
var MinSupportedVersion = Version{Major: 16, Minor: 2}

// releaseNames are the code names of Ceph's major releases.
var releaseNames = map[int]string{
	12: "luminous", 13: "mimic", 14: "nautilus", 15: "octopus", 16: "pacific",
	17: "quincy", 18: "reef", 19: "squid", 20: "tentacle",
}

// ReleaseName is the code name of major release major ("reef"), and
// whether it is known.
func ReleaseName(major int) (string, bool) {
	name, ok := releaseNames[major]
	return name, ok
}

// ReleaseMajor is the major release of code name name, or -1 when it is
// not known.
func ReleaseMajor(name string) int {
	for major, n := range releaseNames {
		if n == name {
			return major
		}
	}
	return -1
}

// Number is the version without its release name ("18.2.7"), the short
// form agents publish.
func (v Version) Number() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

func (v Version) String() string {
	s := v.Number()
	if name, ok := releaseNames[v.Major]; ok {
		s += " (" + name + ")"
	}
	return s
}

// Less reports whether v is an older release than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// versionPattern finds the version in `ceph --version` output ("ceph
// version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific
// (stable)") and in the short form agents publish ("16.2.15").
var versionPattern = regexp.MustCompile(`(?:^|ceph version )v?(\d+)\.(\d+)\.(\d+)`)

// ParseVersion reads a Ceph version from `ceph --version` output or from
// its short "major.minor.patch" form.
func ParseVersion(s string) (Version, error) {
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("no Ceph version in %q", truncateUTF8(s, 120))
	}
	var v Version
	for i, p := range []*int{&v.Major, &v.Minor, &v.Patch} {
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return Version{}, fmt.Errorf("reading Ceph version %q: %w", m[0], err)
		}
		*p = n
	}
	return v, nil
}

// DetectVersion runs `<binary> --version` and returns the short version
// ("16.2.15"). It returns "" and no error when the binary is not installed,
// which is the case outside a Ceph image (simulated nodes).
func DetectVersion(ctx context.Context, binary string) (string, error) {
	path, err := exec.LookPath(binary)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", binary, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", binary, err, truncateUTF8(string(out), 200))
	}
	v, err := ParseVersion(string(out))
	if err != nil {
		return "", err
	}
	return v.Number(), nil
}
