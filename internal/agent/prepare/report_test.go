package prepare

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func manyResults(n int, stderrBytes int) []Result {
	var rs []Result
	huge := strings.Repeat("ceph-osd: bluestore(/var/lib/ceph/osd) mkfs failed… <&> \"quoted\" \x01\n", stderrBytes/64+1)
	for i := 0; i < n; i++ {
		id := i
		path := fmt.Sprintf("/dev/disk/by-id/wwn-0x5000c500a1b2%04d", i)
		switch (i + 2) % 3 {
		case 0:
			rs = append(rs, Result{Path: path, Outcome: OutcomePrepared, OSDID: &id, OSDUUID: "a1b2c3d4-0000-4000-8000-000000000000"})
		case 1:
			rs = append(rs, Result{Path: path, Outcome: OutcomeRefused, Reason: "HasUnknownData", Message: strings.Repeat("non-zero byte at offset 1048575 (head window); ", 40)})
		case 2:
			rs = append(rs, Result{Path: path, Outcome: OutcomeFailed, Reason: ReasonCephVolumeFailed, Message: "ceph-volume raw prepare failed: exit status 1 — ünïcödé", Stderr: huge + fmt.Sprintf("RuntimeError: the end %d", i)})
		}
	}
	return rs
}

// TestTerminationMessageBounded: for any number of targets and any stderr
// size the message is valid JSON of at most 4096 bytes, and keeps what
// matters: every result while possible, and the end of each stderr.
func TestTerminationMessageBounded(t *testing.T) {
	for _, c := range []struct{ n, stderr int }{{1, 1 << 20}, {3, 100000}, {50, 100000}, {50, 0}, {400, 10}} {
		rs := manyResults(c.n, c.stderr)
		msg := TerminationMessage(rs, 0)
		if len(msg) > TerminationMessageLimit {
			t.Errorf("%d results: %d bytes, over %d", c.n, len(msg), TerminationMessageLimit)
		}
		if !utf8.Valid(msg) {
			t.Errorf("%d results: not valid UTF-8", c.n)
		}
		var back []Result
		if err := json.Unmarshal(msg, &back); err != nil {
			t.Fatalf("%d results: invalid JSON: %v\n%s", c.n, err, msg)
		}
		for _, r := range back {
			if r.Outcome == OutcomeFailed {
				if c.stderr > 0 && len(back) == c.n && !strings.Contains(r.Stderr, "the end") && r.Stderr != "…" {
					t.Errorf("%d results: stderr %q lost its end", c.n, r.Stderr)
				}
			}
		}
		t.Logf("%d results, %d bytes of stderr each: %d bytes, %d results kept", c.n, c.stderr, len(msg), len(back))
		if c.n <= 3 && len(back) != c.n {
			t.Errorf("%d results: only %d kept", c.n, len(back))
		}
		checkPriority(t, rs, back)
	}
}

// checkPriority asserts that results were dropped least informative first:
// a kept Prepared result means every Refused and Failed one was kept, a
// kept Refused one that every Failed one was, and order is preserved.
func checkPriority(t *testing.T, all, kept []Result) {
	t.Helper()
	count := func(rs []Result) map[string]int {
		m := map[string]int{}
		for _, r := range rs {
			m[r.Outcome]++
		}
		return m
	}
	a, k := count(all), count(kept)
	if k[OutcomePrepared] > 0 && (k[OutcomeRefused] != a[OutcomeRefused] || k[OutcomeFailed] != a[OutcomeFailed]) {
		t.Errorf("kept %v of %v: a Prepared result was kept over a Refused or Failed one", k, a)
	}
	if k[OutcomeRefused] > 0 && k[OutcomeFailed] != a[OutcomeFailed] {
		t.Errorf("kept %v of %v: a Refused result was kept over a Failed one", k, a)
	}
	j := 0
	for _, r := range kept {
		for j < len(all) && all[j].Path != r.Path {
			j++
		}
		if j == len(all) {
			t.Errorf("kept results out of order or unknown: %s", r.Path)
			return
		}
	}
}

// TestTerminationMessageSmallUnchanged: what fits is written as is.
func TestTerminationMessageSmallUnchanged(t *testing.T) {
	rs := manyResults(3, 10)
	var back []Result
	if err := json.Unmarshal(TerminationMessage(rs, 0), &back); err != nil || !reflect.DeepEqual(back, rs) {
		t.Errorf("round trip changed the results (%v)", err)
	}
	if got := string(TerminationMessage(nil, 0)); got != "[]" {
		t.Errorf("no results: %q", got)
	}
}

// TestTerminationMessageDropsPreparedFirst: when even the shortest form of
// every result does not fit, Prepared results go first, Failed ones last.
func TestTerminationMessageDropsPreparedFirst(t *testing.T) {
	rs := manyResults(300, 100)
	var back []Result
	if err := json.Unmarshal(TerminationMessage(rs, 0), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) == 0 || back[0].Outcome != OutcomeFailed {
		t.Errorf("kept %d results, first %+v; want Failed ones kept first", len(back), back)
	}
	checkPriority(t, rs, back)
}
