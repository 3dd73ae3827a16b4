package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// BlkidProber runs libblkid's low-level probe on a device as a second,
// independent opinion: it knows dozens of formats our own probe does not
// (ZFS, NTFS, F2FS, fake-RAID metadata, …). The device is passed as the
// file the scanner already opened, so the probe reads exactly the device
// the scanner read, even if the node is replaced meanwhile.
type BlkidProber interface {
	// Probe reports what blkid found on dev. An error means blkid could not
	// give an answer; the device is then never treated as blank.
	Probe(dev *os.File) (BlkidResult, error)
}

// BlkidResult is what `blkid -p` reported for one device.
type BlkidResult struct {
	// Values holds the KEY=value pairs printed with "-o export" (TYPE,
	// PTTYPE, UUID, LABEL, USAGE, …) except DEVNAME. It is empty when blkid
	// found nothing.
	Values map[string]string
	// Ambivalent is true when blkid found several conflicting signatures
	// (exit status 8); it prints no values then.
	Ambivalent bool
}

// Found reports whether blkid found anything at all.
func (r BlkidResult) Found() bool { return r.Ambivalent || len(r.Values) > 0 }

// String renders the result for messages, keys sorted.
func (r BlkidResult) String() string {
	if r.Ambivalent {
		return "several conflicting signatures (blkid: ambivalent result)"
	}
	keys := make([]string, 0, len(r.Values))
	for k := range r.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, r.Values[k]))
	}
	return strings.Join(parts, " ")
}

// DefaultBlkidTimeout bounds one blkid run: a device that does not answer
// reads within it is reported Unreadable rather than stalling the scan.
const DefaultBlkidTimeout = 30 * time.Second

// ExecBlkid is the real BlkidProber: it runs util-linux's blkid in
// low-level probe mode ("-p": no cache, superblocks and partition tables),
// handing it the open device as file descriptor 3. In the agent's pod this
// is the Ceph image's blkid; on a host, the host's.
type ExecBlkid struct {
	// Path is the blkid binary; empty means "blkid" on PATH, then
	// /usr/sbin/blkid and /sbin/blkid.
	Path string
	// Timeout bounds one run; zero means DefaultBlkidTimeout.
	Timeout time.Duration
}

// blkidPath finds the binary.
func (e ExecBlkid) blkidPath() (string, error) {
	if e.Path != "" {
		return e.Path, nil
	}
	if p, err := exec.LookPath("blkid"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/blkid", "/sbin/blkid"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("blkid is not installed (not on PATH, nor in /usr/sbin or /sbin)")
}

// Probe implements BlkidProber. blkid exits 0 when it found something, 2
// when it found nothing and 8 when the result is ambivalent; anything else
// (or output it does not explain) is an error. Because the device is passed
// as an open descriptor, "found nothing" cannot be confused with "could not
// open the path", which blkid reports with the same status.
func (e ExecBlkid) Probe(dev *os.File) (BlkidResult, error) {
	bin, err := e.blkidPath()
	if err != nil {
		return BlkidResult{}, err
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultBlkidTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-p", "-o", "export", "/proc/self/fd/3")
	cmd.ExtraFiles = []*os.File{dev}
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	detail := func() string {
		if s := strings.TrimSpace(stderr.String()); s != "" {
			return ": " + s
		}
		return ""
	}
	if ctx.Err() != nil {
		return BlkidResult{}, fmt.Errorf("%s -p did not finish within %s", bin, timeout)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		res := BlkidResult{Values: parseBlkidExport(stdout.Bytes())}
		if len(res.Values) == 0 {
			return BlkidResult{}, fmt.Errorf("%s -p succeeded but printed nothing it found%s", bin, detail())
		}
		return res, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 2:
		if stderr.Len() > 0 {
			return BlkidResult{}, fmt.Errorf("%s -p failed%s", bin, detail())
		}
		return BlkidResult{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 8:
		return BlkidResult{Ambivalent: true}, nil
	default:
		return BlkidResult{}, fmt.Errorf("%s -p: %w%s", bin, err, detail())
	}
}

// parseBlkidExport parses "-o export" output: KEY=value lines, DEVNAME
// dropped. Values are printed with shell escaping of special characters;
// the backslashes are removed.
func parseBlkidExport(out []byte) map[string]string {
	vals := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || k == "" || k == "DEVNAME" {
			continue
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		vals[k] = b.String()
	}
	return vals
}

// StaticBlkid answers from fixed results keyed by the device file's name
// (the path the scanner opened). It exists for tests that need a blkid
// finding our own probe cannot make, or a failing blkid.
type StaticBlkid struct {
	// Results holds the answer per path; a path not listed found nothing.
	Results map[string]BlkidResult
	// Errors holds paths for which blkid fails.
	Errors map[string]error
}

// Probe implements BlkidProber.
func (s StaticBlkid) Probe(dev *os.File) (BlkidResult, error) {
	if err := s.Errors[dev.Name()]; err != nil {
		return BlkidResult{}, err
	}
	return s.Results[dev.Name()], nil
}
