package ceph

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// debianPasswd is the tail of /etc/passwd in an image built from Debian's
// ceph packages.
const debianPasswd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
ceph:x:64045:64045:Ceph storage service:/var/lib/ceph:/usr/sbin/nologin
`

func TestParsePasswdUser(t *testing.T) {
	for _, tc := range []struct {
		name, passwd string
		want         User
		err          string // "" for success
		noUser       bool
	}{
		{name: "debian", passwd: debianPasswd, want: User{64045, 64045}},
		{name: "upstream", passwd: "root:x:0:0:root:/root:/bin/bash\nceph:x:167:167:Ceph daemons:/var/lib/ceph:/sbin/nologin\n", want: User{167, 167}},
		{name: "other group", passwd: "ceph:x:64045:100::/var/lib/ceph:/usr/sbin/nologin", want: User{64045, 100}},
		{name: "comments, blanks and malformed lines of others", passwd: "# ceph:x:1:1::/:/bin/sh\n\n   \nbroken\nalso:broken:x\n" +
			"  ceph:x:64045:64045::/var/lib/ceph:/usr/sbin/nologin  \r\n", want: User{64045, 64045}},
		{name: "first entry decides", passwd: "ceph:x:167:167::/:/bin/false\nceph:x:64045:64045::/:/bin/false\n", want: User{167, 167}},
		{name: "a user whose name starts with ceph", passwd: "ceph-exporter:x:1000:1000::/:/bin/false\ncephadm:x:1001:1001::/:/bin/false\n", noUser: true},
		{name: "no ceph user", passwd: "root:x:0:0:root:/root:/bin/bash\n", noUser: true},
		{name: "empty file", passwd: "", noUser: true},
		{name: "uid 0", passwd: "ceph:x:0:0::/:/bin/sh\n", err: "uid of ceph: 0 is root"},
		{name: "gid 0", passwd: "ceph:x:64045:0::/:/bin/sh\n", err: "gid of ceph: 0 is root"},
		{name: "negative uid", passwd: "ceph:x:-1:64045::/:/bin/sh\n", err: "uid of ceph: -1 is outside"},
		{name: "uid beyond int32", passwd: "ceph:x:4294967294:64045::/:/bin/sh\n", err: "uid of ceph: 4294967294 is outside"},
		{name: "uid not a number", passwd: "ceph:x:abc:64045::/:/bin/sh\n", err: `uid of ceph: "abc" is not a number`},
		{name: "empty uid", passwd: "ceph:x::64045::/:/bin/sh\n", err: `uid of ceph: "" is not a number`},
		{name: "too few fields", passwd: "root:x:0:0:root:/root:/bin/bash\nceph:x:64045:64045\n", err: "line 2: the entry of ceph has 4 fields, want 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePasswdUser(strings.NewReader(tc.passwd), UserName)
			switch {
			case tc.noUser:
				if !errors.Is(err, ErrNoUser) {
					t.Fatalf("got %+v, %v; want ErrNoUser", got, err)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, ErrNoUser) {
					t.Fatalf("got %+v, %v; want an error containing %q", got, err, tc.err)
				}
			default:
				if err != nil || got != tc.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
			}
		})
	}
}

func TestDetectUser(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "passwd")
	if err := os.WriteFile(p, []byte(debianPasswd), 0o644); err != nil {
		t.Fatal(err)
	}
	if u, err := DetectUser(p, UserName); err != nil || u != (User{64045, 64045}) {
		t.Errorf("DetectUser = %+v, %v", u, err)
	}
	if _, err := DetectUser(p, "nosuchuser"); !errors.Is(err, ErrNoUser) || !strings.Contains(err.Error(), p) {
		t.Errorf("absent user: %v", err)
	}
	if _, err := DetectUser(filepath.Join(dir, "missing"), UserName); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
