package realceph

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientReaderScript reads the objects named in its arguments (after the
// entity to read as and its keyring) from pool idtest one after another
// through one librados client that stays connected, as an application
// does, until its standard input closes. For each read it prints the start
// (Unix seconds), the duration, the object, and "ok <sha256>" or "err
// <error>".
const clientReaderScript = `
import hashlib, sys, threading, time
import rados
name, keyring, names = sys.argv[1], sys.argv[2], sys.argv[3:]
cluster = rados.Rados(conffile="/etc/ceph/ceph.conf", name=name,
                      conf={"keyring": keyring, "rados_osd_op_timeout": "60"})
cluster.connect(timeout=60)
ioctx = cluster.open_ioctx("idtest")
stop = threading.Event()
def wait():
    sys.stdin.read()
    stop.set()
threading.Thread(target=wait, daemon=True).start()
print("connected", flush=True)
i = 0
while not stop.is_set():
    name = names[i % len(names)]
    i += 1
    start = time.time()
    try:
        res = "ok " + hashlib.sha256(ioctx.read(name, 1 << 24)).hexdigest()
    except Exception as e:
        res = "err " + str(e).replace("\n", " ")
    print("%.3f %.3f %s %s" % (start, time.time() - start, name, res), flush=True)
ioctx.close()
cluster.shutdown()
`

// startClientReader starts a reader whose reads go through one connected
// librados client in the tools pod (startReader makes a new client for
// every read, which also needs the monitors each time). It returns once
// the client is connected.
func startClientReader(ctx context.Context, tl *tools, objs testObjects) (*reader, error) {
	names := make([]string, 0, len(objs))
	want := map[string]string{}
	for n, b := range objs {
		names = append(names, n)
		sum := sha256.Sum256(b)
		want[n] = hex.EncodeToString(sum[:])
	}
	slices.Sort(names)
	name, keyring := "client.admin", tl.keyring
	if tl.reader != "" {
		name, keyring = tl.reader, tl.readerKeyring
	}
	args := append([]string{"exec", "-i", "-n", namespace, toolsPodName, "-c", "tools", "--", "python3", "-u", "-c", clientReaderScript, name, keyring}, names...)
	cmd := kubectlCmd(ctx, tl.cluster, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "connected" {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the connected reader did not connect: %q %s", lines.Text(), stderr.String())
	}
	r := &reader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		<-r.stop
		_ = stdin.Close()
	}()
	go func() {
		defer close(r.done)
		for lines.Scan() {
			f := strings.SplitN(lines.Text(), " ", 5)
			if len(f) < 4 {
				continue
			}
			start, err1 := strconv.ParseFloat(f[0], 64)
			took, err2 := strconv.ParseFloat(f[1], 64)
			if err1 != nil || err2 != nil {
				continue
			}
			at := time.Unix(0, int64(start*1e9))
			d := time.Duration(took * float64(time.Second))
			r.mu.Lock()
			r.reads++
			r.longest = max(r.longest, d)
			if d > slowRead {
				r.slow = append(r.slow, fmt.Sprintf("%s %.1fs", at.UTC().Format("15:04:05.0"), d.Seconds()))
			}
			switch {
			case f[3] == "err":
				r.errs = append(r.errs, fmt.Sprintf("%s at %s: %s", f[2], at.UTC().Format(time.TimeOnly), strings.Join(f[4:], " ")))
			case len(f) < 5 || f[4] != want[f[2]]:
				r.errs = append(r.errs, fmt.Sprintf("%s at %s: read back other bytes than were written", f[2], at.UTC().Format(time.TimeOnly)))
			}
			r.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			r.mu.Lock()
			r.errs = append(r.errs, fmt.Sprintf("the connected reader ended: %v: %s", err, strings.TrimSpace(stderr.String())))
			r.mu.Unlock()
		}
	}()
	return r, nil
}

// readerPair is the two readers a disruption is measured with: one
// starting a new client for every read, and one connected client.
type readerPair struct{ fresh, connected *reader }

// startReaders starts both readers; the connected one has connected when
// it returns.
func startReaders(t *testing.T, ctx context.Context, tl *tools, objs testObjects) readerPair {
	t.Helper()
	r := startReader(ctx, tl, objs)
	cr, err := startClientReader(ctx, tl, objs)
	if err != nil {
		_, _, _ = r.end()
		t.Fatal(err)
	}
	return readerPair{fresh: r, connected: cr}
}

// end stops both readers and returns their counts and longest reads as
// one line. during names the disruption ("while draining node-1"): each
// read that failed is an error of the test (the first five, and how many
// in all), and every read slower than slowRead is logged with the cluster
// log's lines about monitors and OSDs since since, which explain pauses.
func (p readerPair) end(t *testing.T, ctx context.Context, tl *tools, during string, since time.Time) string {
	t.Helper()
	reads, errs, longest := p.fresh.end()
	creads, cerrs, clongest := p.connected.end()
	summary := fmt.Sprintf("connected client: %d reads, %d errors, longest read %.1fs; a new client per read: %d reads, %d errors, longest read %.1fs",
		creads, len(cerrs), clongest.Seconds(), reads, len(errs), longest.Seconds())
	if len(p.fresh.slow) > 0 || len(p.connected.slow) > 0 {
		t.Logf("FIGURE reads slower than %s %s (start, duration): connected client: %s; new clients: %s; cluster log:\n%s", slowRead, during,
			strings.Join(p.connected.slow, ", "), strings.Join(p.fresh.slow, ", "), clusterLog(ctx, tl, since.Add(-time.Second), time.Now()))
	}
	for i, e := range append(cerrs, errs...) {
		if i == 5 {
			errorf(t, "… %d read errors in all %s", len(cerrs)+len(errs), during)
			break
		}
		errorf(t, "read %s: %s", during, e)
	}
	return summary
}
