package discovery

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// MountInfo is one line of /proc/<pid>/mountinfo. Only the fields the
// scanner needs are interpreted, but all are kept so the parser is reusable.
type MountInfo struct {
	// MountID and ParentID identify the mount and its parent.
	MountID, ParentID int
	// Major and Minor are the st_dev of the mounted filesystem; for block
	// filesystems they are the device's numbers.
	Major, Minor int
	// Root is the path within the filesystem that forms the mount's root.
	Root string
	// MountPoint is the mount point, with octal escapes decoded.
	MountPoint string
	// Options are the per-mount options.
	Options string
	// Optional holds the optional fields (shared:N, master:N, …).
	Optional []string
	// FSType is the filesystem type.
	FSType string
	// Source is the mount source, e.g. "/dev/sdb1".
	Source string
	// SuperOptions are the per-superblock options.
	SuperOptions string
}

// ParseMountinfo parses the content of a mountinfo file. A malformed line is
// an error (naming the line) because the kernel always writes well-formed
// lines, and silently dropping a mount could make a mounted disk look free.
func ParseMountinfo(data []byte) ([]MountInfo, error) {
	var out []MountInfo
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 10 || sep < 0 || len(f) < sep+3 {
			return nil, fmt.Errorf("mountinfo line %d: expected at least 10 fields and a separator, got %d fields", n, len(f))
		}
		var m MountInfo
		var err error
		if m.MountID, err = strconv.Atoi(f[0]); err != nil {
			return nil, fmt.Errorf("mountinfo line %d: mount id: %w", n, err)
		}
		if m.ParentID, err = strconv.Atoi(f[1]); err != nil {
			return nil, fmt.Errorf("mountinfo line %d: parent id: %w", n, err)
		}
		if m.Major, m.Minor, err = parseMajorMinor(f[2]); err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		m.Root = unescapeOctal(f[3])
		m.MountPoint = unescapeOctal(f[4])
		m.Options = f[5]
		if sep > 6 {
			m.Optional = append([]string(nil), f[6:sep]...)
		}
		m.FSType = unescapeOctal(f[sep+1])
		m.Source = unescapeOctal(f[sep+2])
		if len(f) > sep+3 {
			m.SuperOptions = f[sep+3]
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo line %d: %w", n+1, err)
	}
	return out, nil
}

// parseMajorMinor parses "8:17" as found in mountinfo and sysfs "dev".
func parseMajorMinor(s string) (int, int, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, 0, fmt.Errorf("device number %q is not major:minor", s)
	}
	maj, err1 := strconv.ParseUint(a, 10, 31)
	minor, err2 := strconv.ParseUint(b, 10, 31)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("device number %q is not major:minor", s)
	}
	return int(maj), int(minor), nil
}

// unescapeOctal decodes the \ooo escapes the kernel uses for space, tab,
// newline and backslash in paths. Anything that is not a valid three-digit
// octal escape is kept as is.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		// The first digit must be 0-3 for the value to fit in a byte.
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// SwapEntry is one active swap area from /proc/swaps.
type SwapEntry struct {
	// Filename is the swap device or file, with escapes decoded.
	Filename string
	// Type is "partition" for block devices and "file" for swap files.
	Type string
}

// ParseSwaps parses /proc/swaps. The header line is skipped; lines with
// fewer than two fields are ignored because the file is kernel-generated and
// only the name and type matter here.
func ParseSwaps(data []byte) []SwapEntry {
	var out []SwapEntry
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (i == 0 && f[0] == "Filename") {
			continue
		}
		out = append(out, SwapEntry{Filename: unescapeOctal(f[0]), Type: f[1]})
	}
	return out
}
