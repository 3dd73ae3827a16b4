package ceph

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// UserName is the user Ceph's packages create and its daemons switch to
// (--setuser ceph).
const UserName = "ceph"

// User is a user's numeric ids, as read from a passwd file.
type User struct {
	UID, GID int64
}

// ErrNoUser is returned when the passwd file has no entry for the user.
var ErrNoUser = errors.New("no such user")

// maxID is the largest id Kubernetes accepts for runAsUser and runAsGroup.
const maxID = 1<<31 - 1

// ParsePasswdUser returns the ids of user name from a passwd(5) file read
// from r: lines of name:password:uid:gid:gecos:home:shell. Blank lines,
// comments (#) and lines of other users that are malformed are skipped;
// the first entry for name decides, as with getpwnam. An entry for name
// that is malformed, or whose uid or gid is 0 (root) or beyond what
// Kubernetes can run as, is an error: nothing should run as it. A file
// without an entry for name returns an error wrapping ErrNoUser.
func ParsePasswdUser(r io.Reader, name string) (User, error) {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if fields[0] != name {
			continue
		}
		if len(fields) != 7 {
			return User{}, fmt.Errorf("line %d: the entry of %s has %d fields, want 7", n, name, len(fields))
		}
		uid, err := parseID(fields[2])
		if err != nil {
			return User{}, fmt.Errorf("line %d: uid of %s: %w", n, name, err)
		}
		gid, err := parseID(fields[3])
		if err != nil {
			return User{}, fmt.Errorf("line %d: gid of %s: %w", n, name, err)
		}
		return User{UID: uid, GID: gid}, nil
	}
	if err := sc.Err(); err != nil {
		return User{}, err
	}
	return User{}, fmt.Errorf("%s: %w", name, ErrNoUser)
}

// parseID reads a uid or gid that a container may run as: 1 to maxID.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a number", s)
	case id == 0:
		return 0, errors.New("0 is root")
	case id < 0 || id > maxID:
		return 0, fmt.Errorf("%d is outside 1..%d", id, maxID)
	}
	return id, nil
}

// DetectUser reads user name from the passwd file at path: in the agent,
// the image's own /etc/passwd, which tells the uid of ceph in this image
// (167 in the Ceph project's images, 64045 in Debian's packages).
func DetectUser(path, name string) (User, error) {
	f, err := os.Open(path)
	if err != nil {
		return User{}, err
	}
	// Only read: a failed close loses nothing.
	defer func() { _ = f.Close() }()
	u, err := ParsePasswdUser(f, name)
	if err != nil {
		return User{}, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}
