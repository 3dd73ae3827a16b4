package realnode

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// UpForTest brings the node up for t, or joins the one `make cluster-up`
// started, with its steps in t's log. A node it started is taken down when
// t ends, unless CEPH_OPERATOR_REAL_KEEP=1 keeps it for a look afterwards.
func UpForTest(ctx context.Context, t testing.TB) *Cluster {
	t.Helper()
	o := Options{Log: TestLog{t}}
	start := time.Now()
	c, err := Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !c.AlreadyRunning && os.Getenv("CEPH_OPERATOR_REAL_KEEP") != "1" {
		t.Cleanup(func() {
			if err := Down(context.Background(), o); err != nil {
				t.Errorf("taking the node down: %v", err)
			}
		})
	}
	t.Logf("node %s up after %.1fs (logs in %s)", c.Node, time.Since(start).Seconds(), c.LogDir)
	return c
}

// TestLog sends what is written to it, a line at a time, to a test's log.
type TestLog struct{ T testing.TB }

func (l TestLog) Write(p []byte) (int, error) {
	l.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
