package discovery

import (
	"bufio"
	"bytes"
	"sort"
	"strings"
)

// UdevData is the parsed content of one /run/udev/data/b<major>:<minor>
// file. udev has already run blkid and the persistent-storage rules, so when
// this exists it is the best source for signatures and stable links.
type UdevData struct {
	// Properties holds the E: lines (ID_FS_TYPE, ID_SERIAL, ID_WWN, …).
	Properties map[string]string
	// Links holds the S: lines as absolute paths ("/dev/disk/by-id/…"),
	// sorted and de-duplicated.
	Links []string
}

// maxUdevLine bounds a single line; real udev lines are far shorter, and
// longer ones are skipped rather than buffered without limit.
const maxUdevLine = 64 * 1024

// ParseUdevData parses a udev database record. It is deliberately lenient:
// unknown prefixes (I:, G:, Q:, V:, W:, L:) and malformed lines are ignored,
// because a partially understood record is still useful and the record is
// written by udevd, not by a user. It never fails.
func ParseUdevData(data []byte) UdevData {
	u := UdevData{Properties: map[string]string{}}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxUdevLine)
	// Scanning stops at an over-long line, keeping what was parsed so far.
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		val := line[2:]
		switch line[0] {
		case 'E':
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				continue
			}
			u.Properties[k] = v
		case 'S':
			if val == "" {
				continue
			}
			l := "/dev/" + strings.TrimPrefix(val, "/")
			if !seen[l] {
				seen[l] = true
				u.Links = append(u.Links, l)
			}
		}
	}
	sort.Strings(u.Links)
	return u
}
