package osdop

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fakeCeph answers each command from a table keyed by its words.
type fakeCeph struct {
	out   map[string]string
	fail  map[string]string
	calls []string
}

func (f *fakeCeph) run(_ context.Context, words ...string) ([]byte, error) {
	k := strings.Join(words, " ")
	f.calls = append(f.calls, k)
	if msg, ok := f.fail[k]; ok {
		return nil, errors.New(msg)
	}
	return []byte(f.out[k]), nil
}

const safe0 = `{"safe_to_destroy":[0],"active":[],"missing_stats":[],"stored_pgs":[]}`
const pgsWithout0 = `{"pg_ready":true,"pg_stats":[{"pgid":"1.0","state":"active+clean","up":[1,2],"up_primary":1,"acting":[1,2],"acting_primary":1},{"pgid":"1.1","state":"active+clean","up":[2,1],"up_primary":2,"acting":[2,1],"acting_primary":2}]}`
const dump3 = `{"pools":[{"pool_name":"rbd","size":2,"pg_num":2}],"osds":[{"osd":0,"up":1,"in":0},{"osd":1,"up":1,"in":1},{"osd":2,"up":1,"in":1}]}`
const dump2 = `{"pools":[{"pool_name":"rbd","size":2,"pg_num":2}],"osds":[{"osd":0,"up":1,"in":0},{"osd":1,"up":1,"in":1},{"osd":2,"up":0,"in":1}]}`
const treeOneHost = `{"nodes":[{"type":"root","children":[-2]},{"type":"host","children":[0,1,2]}]}`

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name, step, domain string
		out, fail          map[string]string
		want               Result
		calls              []string
	}{
		{name: "out", step: StepOut, want: Result{Step: StepOut, OSDID: 0, Outcome: Done}, calls: []string{"osd out 0"}},
		{name: "in", step: StepIn, want: Result{Step: StepIn, Outcome: Done}, calls: []string{"osd in 0"}},
		{name: "purge", step: StepPurge, want: Result{Step: StepPurge, Outcome: Done}, calls: []string{"osd purge 0 --yes-i-really-mean-it"}},
		{name: "destroy", step: StepDestroy, want: Result{Step: StepDestroy, Outcome: Done}, calls: []string{"osd destroy 0 --yes-i-really-mean-it"}},
		{name: "out fails", step: StepOut, fail: map[string]string{"osd out 0": "ceph osd out: exit status 1: [errno 110] RADOS timed out"},
			want: Result{Step: StepOut, Outcome: Failed, Message: "ceph osd out: exit status 1: [errno 110] RADOS timed out"}, calls: []string{"osd out 0"}},
		// An answer that is not Ceph's formatted one is no yes.
		{name: "not yet, unreadable answer", step: StepSafe, domain: "osd", out: map[string]string{"osd dump": dump3},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "Ceph's answer to safe-to-destroy cannot be read: \"\""}},
		{name: "safe, listed, every PG reported", step: StepSafe, out: map[string]string{"osd safe-to-destroy 0": safe0, "pg dump pgs_brief": pgsWithout0, "osd dump": dump3},
			want: Result{Step: StepSafe, Outcome: Done}, calls: []string{"osd safe-to-destroy 0", "pg dump pgs_brief", "osd dump"}},
		// A manager that started moments ago has not heard from every
		// OSD: its yes is about the placement groups it knows of.
		{name: "not yet, the manager's PG map is not ready", step: StepSafe, domain: "osd",
			out:  map[string]string{"osd safe-to-destroy 0": safe0, "pg dump pgs_brief": `{"pg_ready":false,"pg_stats":[]}`, "osd dump": dump3},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "Ceph said yes, but its manager has not yet heard from every OSD since it started, so it may not know where all data is"}},
		{name: "not yet, placement groups missing from the manager's map", step: StepSafe, domain: "osd",
			out:  map[string]string{"osd safe-to-destroy 0": safe0, "pg dump pgs_brief": `{"pg_ready":true,"pg_stats":[{"pgid":"1.0","state":"active+clean","up":[1,2],"acting":[1,2]}]}`, "osd dump": dump3},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "Ceph said yes, but its manager knows 1 of the 2 placement groups of the pools, so it may not know where all data is"}},
		{name: "not yet, a PG in an unknown state", step: StepSafe, domain: "osd",
			out:  map[string]string{"osd safe-to-destroy 0": safe0, "pg dump pgs_brief": `{"pg_ready":true,"pg_stats":[{"pgid":"1.0","state":"unknown","up":[],"acting":[]},{"pgid":"1.1","state":"active+clean","up":[1,2],"acting":[1,2]}]}`, "osd dump": dump3},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "Ceph said yes, but placement group 1.0 is unknown, so it may not know where all data is"}},
		{name: "not yet, the OSD still maps a PG", step: StepSafe, domain: "osd",
			out:  map[string]string{"osd safe-to-destroy 0": safe0, "pg dump pgs_brief": `{"pg_ready":true,"pg_stats":[{"pgid":"1.0","state":"active+clean","up":[1,2],"acting":[0,1,2]},{"pgid":"1.1","state":"active+clean","up":[1,2],"acting":[1,2]}]}`, "osd dump": dump3},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "Ceph said yes, but placement group 1.0 still maps to OSD 0 (up [1 2], acting [0 1 2])"}},
		{name: "not yet, the PG map cannot be read", step: StepSafe, domain: "osd",
			out:  map[string]string{"osd safe-to-destroy 0": safe0, "osd dump": dump3},
			fail: map[string]string{"pg dump pgs_brief": "timed out"},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "Ceph said yes, but its placement group map cannot be read: timed out"}},
		{name: "not yet, formatted", step: StepSafe, domain: "osd",
			out:  map[string]string{"osd safe-to-destroy 0": `{"safe_to_destroy":[],"active":[],"missing_stats":[],"stored_pgs":["1.0","1.3"]}`, "osd dump": dump3},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "2 placement groups are still stored on it"}, calls: []string{"osd safe-to-destroy 0", "osd dump"}},
		{name: "not yet, exit status", step: StepSafe, domain: "osd",
			fail: map[string]string{"osd safe-to-destroy 0": "ceph osd safe-to-destroy: exit status 16: Error EBUSY: OSD(s) 0 have 12 pgs currently mapped to them"},
			out:  map[string]string{"osd dump": dump3},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "ceph osd safe-to-destroy: exit status 16: Error EBUSY: OSD(s) 0 have 12 pgs currently mapped to them"}},
		{name: "never: too few OSDs", step: StepSafe, domain: "osd",
			fail: map[string]string{"osd safe-to-destroy 0": "EBUSY"}, out: map[string]string{"osd dump": dump2},
			want: Result{Step: StepSafe, Outcome: Never, Message: "pool rbd keeps 2 copies and only 1 other OSDs are up and in"}},
		{name: "never: one host", step: StepSafe, domain: "host",
			fail: map[string]string{"osd safe-to-destroy 0": "EBUSY"}, out: map[string]string{"osd dump": dump3, "osd tree": treeOneHost},
			want:  Result{Step: StepSafe, Outcome: Never, Message: "pool rbd keeps 2 copies and only 1 other hosts are up and in"},
			calls: []string{"osd safe-to-destroy 0", "osd dump", "osd tree"}},
		{name: "not yet when the map cannot be read", step: StepSafe, domain: "osd",
			fail: map[string]string{"osd safe-to-destroy 0": "EBUSY", "osd dump": "timed out"},
			want: Result{Step: StepSafe, Outcome: NotYet, Message: "EBUSY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCeph{out: tc.out, fail: tc.fail}
			domain := tc.domain
			if domain == "" {
				domain = "host"
			}
			got := Run(context.Background(), f.run, tc.step, 0, domain)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if tc.calls != nil && !slices.Equal(f.calls, tc.calls) {
				t.Fatalf("calls %q, want %q", f.calls, tc.calls)
			}
		})
	}
}

func TestRunCluster(t *testing.T) {
	const flags = `{"flags":"noout,sortbitwise,recovery_deletes"}`
	const noFlags = `{"flags":"sortbitwise,recovery_deletes","flags_set":["sortbitwise","recovery_deletes"]}`
	for _, tc := range []struct {
		name, step string
		ids        []int32
		out, fail  map[string]string
		want       Result
		calls      []string
	}{
		{name: "set noout", step: StepSetNoOut, out: map[string]string{"osd dump": noFlags},
			want: Result{Step: StepSetNoOut, OSDID: -1, Outcome: Done}, calls: []string{"osd dump", "osd set noout"}},
		{name: "noout set already", step: StepSetNoOut, out: map[string]string{"osd dump": flags},
			want: Result{Step: StepSetNoOut, OSDID: -1, Outcome: Done, Message: NoOutPreset}, calls: []string{"osd dump"}},
		{name: "noout in flags_set only", step: StepSetNoOut, out: map[string]string{"osd dump": `{"flags_set":["noout"]}`},
			want: Result{Step: StepSetNoOut, OSDID: -1, Outcome: Done, Message: NoOutPreset}, calls: []string{"osd dump"}},
		{name: "set noout, map unreadable", step: StepSetNoOut, fail: map[string]string{"osd dump": "timed out"},
			want: Result{Step: StepSetNoOut, OSDID: -1, Outcome: Done}, calls: []string{"osd dump", "osd set noout"}},
		{name: "set noout fails", step: StepSetNoOut, out: map[string]string{"osd dump": noFlags}, fail: map[string]string{"osd set noout": "EACCES"},
			want: Result{Step: StepSetNoOut, OSDID: -1, Outcome: Failed, Message: "EACCES"}},
		{name: "unset noout", step: StepUnsetNoOut,
			want: Result{Step: StepUnsetNoOut, OSDID: -1, Outcome: Done}, calls: []string{"osd unset noout"}},
		{name: "ok to stop", step: StepOKToStop, ids: []int32{3, 4},
			out:  map[string]string{"osd ok-to-stop 3 4": `{"ok_to_stop":true,"osds":[3,4],"num_ok_pgs":12,"num_not_ok_pgs":0}`, "pg dump pgs_brief": pgsWithout0, "osd dump": dump3},
			want: Result{Step: StepOKToStop, OSDID: -1, OSDIDs: []int32{3, 4}, Outcome: Done}, calls: []string{"osd ok-to-stop 3 4", "pg dump pgs_brief", "osd dump"}},
		// Right after a manager restart, Ceph's yes counts only the
		// placement groups it has heard of.
		{name: "ok, but the manager's PG map is not ready", step: StepOKToStop, ids: []int32{3},
			out:  map[string]string{"osd ok-to-stop 3": `{"ok_to_stop":true,"osds":[3],"num_ok_pgs":0,"num_not_ok_pgs":0}`, "pg dump pgs_brief": `{"pg_ready":false,"pg_stats":[]}`, "osd dump": dump3},
			want: Result{Step: StepOKToStop, OSDID: -1, OSDIDs: []int32{3}, Outcome: NotYet, Message: "Ceph said yes, but its manager has not yet heard from every OSD since it started, so it may not know where all data is"}},
		{name: "unreadable answer", step: StepOKToStop, ids: []int32{3},
			out:  map[string]string{"osd ok-to-stop 3": "OSD(s) 3 are ok to stop without reducing availability"},
			want: Result{Step: StepOKToStop, OSDID: -1, OSDIDs: []int32{3}, Outcome: NotYet, Message: "Ceph's answer to ok-to-stop cannot be read: \"OSD(s) 3 are ok to stop without reducing availability\""}},
		{name: "unsafe, error status", step: StepOKToStop, ids: []int32{3},
			fail: map[string]string{"osd ok-to-stop 3": "exit status 16: Error EBUSY: unsafe to stop osd(s) at this time (8 PGs are or would become offline)"},
			want: Result{Step: StepOKToStop, OSDID: -1, OSDIDs: []int32{3}, Outcome: NotYet, Message: "exit status 16: Error EBUSY: unsafe to stop osd(s) at this time (8 PGs are or would become offline)"}},
		{name: "unsafe, formatted", step: StepOKToStop, ids: []int32{3},
			out:  map[string]string{"osd ok-to-stop 3": `{"ok_to_stop":false,"osds":[3],"num_ok_pgs":4,"num_not_ok_pgs":8}`},
			want: Result{Step: StepOKToStop, OSDID: -1, OSDIDs: []int32{3}, Outcome: NotYet, Message: "Ceph says stopping them now would leave 8 placement groups unavailable"}},
		{name: "no ids", step: StepOKToStop,
			want: Result{Step: StepOKToStop, OSDID: -1, Outcome: Failed, Message: "ok-to-stop needs OSD ids"}, calls: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCeph{out: tc.out, fail: tc.fail}
			got := RunCluster(context.Background(), f.run, tc.step, tc.ids)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if tc.calls != nil && !slices.Equal(f.calls, tc.calls) && (len(tc.calls) != 0 || len(f.calls) != 0) {
				t.Fatalf("calls %q, want %q", f.calls, tc.calls)
			}
		})
	}
}

func TestExitCodesAndEncode(t *testing.T) {
	for _, o := range []string{Done, Failed, Never, NotYet} {
		if got := OutcomeOfExit(int32(ExitCode(o))); got != o {
			t.Errorf("%s: exit %d reads back as %s", o, ExitCode(o), got)
		}
	}
	if ExitCode("bogus") != 1 || OutcomeOfExit(2) != Failed {
		t.Error("unknown outcomes and bad-flag exits must read as failures")
	}
	b := Encode(Result{Step: StepSafe, OSDID: 3, Outcome: NotYet, Message: strings.Repeat("x", 10000)})
	var back Result
	if len(b) > 4096 || json.Unmarshal(b, &back) != nil || back.OSDID != 3 || back.Outcome != NotYet {
		t.Fatalf("encoded %d bytes: %s", len(b), b[:min(len(b), 100)])
	}
}

func TestRequireRelease(t *testing.T) {
	const reef = `{"require_osd_release":"reef","flags":"sortbitwise"}`
	const v18 = "ceph version 18.2.7 (6b0e988052ec84cf2d4a54ff9bbbc5e720b621ad) reef (stable)"
	const v20 = "ceph version 20.2.4 (0c2e64bd1c1d6b5e3f0d1c8a77d1f35c1b2a9e01) tentacle (stable)"
	versions := func(m map[string]int) string { b, _ := json.Marshal(m); return string(b) }
	for _, tc := range []struct {
		name      string
		out, fail map[string]string
		want      Result
		calls     []string
	}{
		{name: "every OSD on tentacle: raised",
			out:   map[string]string{"osd dump": reef, "osd versions": versions(map[string]int{v20: 3})},
			want:  Result{Step: StepRequireRelease, OSDID: -1, Outcome: Done, Message: "require_osd_release raised from reef to tentacle: every running OSD runs Ceph 20 or later"},
			calls: []string{"osd dump", "osd versions", "osd require-osd-release tentacle"}},
		// One OSD still on reef: the oldest release is what counts.
		{name: "one OSD still on reef: nothing to raise",
			out:   map[string]string{"osd dump": reef, "osd versions": versions(map[string]int{v20: 2, v18: 1})},
			want:  Result{Step: StepRequireRelease, OSDID: -1, Outcome: Done, Message: "require_osd_release is reef and the oldest running OSD runs Ceph 18: nothing to raise"},
			calls: []string{"osd dump", "osd versions"}},
		{name: "no OSD running",
			out:  map[string]string{"osd dump": reef, "osd versions": `{}`},
			want: Result{Step: StepRequireRelease, OSDID: -1, Outcome: NotYet, Message: "no running OSD reports its version"}},
		{name: "a release newer than the operator knows is left alone",
			out:   map[string]string{"osd dump": `{"require_osd_release":"umbrella"}`, "osd versions": versions(map[string]int{"ceph version 21.2.0 (abc) umbrella (stable)": 3})},
			want:  Result{Step: StepRequireRelease, OSDID: -1, Outcome: Failed, Message: `require_osd_release "umbrella" is not a release this operator knows; it is left as it is`},
			calls: []string{"osd dump", "osd versions"}},
		{name: "OSDs on a release the operator cannot name",
			out:   map[string]string{"osd dump": `{"require_osd_release":"tentacle"}`, "osd versions": versions(map[string]int{"ceph version 21.2.0 (abc) umbrella (stable)": 3})},
			want:  Result{Step: StepRequireRelease, OSDID: -1, Outcome: Failed, Message: "the running OSDs run Ceph 21 or later, a release this operator cannot name for require-osd-release"},
			calls: []string{"osd dump", "osd versions"}},
		{name: "unreadable version",
			out:  map[string]string{"osd dump": reef, "osd versions": `{"something else": 3}`},
			want: Result{Step: StepRequireRelease, OSDID: -1, Outcome: Failed, Message: `no Ceph version in "something else"`}},
		{name: "Ceph refuses",
			out:  map[string]string{"osd dump": reef, "osd versions": versions(map[string]int{v20: 3})},
			fail: map[string]string{"osd require-osd-release tentacle": "exit status 1: Error EPERM: not all up OSDs have CEPH_FEATURE_SERVER_TENTACLE feature"},
			want: Result{Step: StepRequireRelease, OSDID: -1, Outcome: Failed, Message: "exit status 1: Error EPERM: not all up OSDs have CEPH_FEATURE_SERVER_TENTACLE feature"}},
		{name: "the map cannot be read",
			fail:  map[string]string{"osd dump": "timed out"},
			want:  Result{Step: StepRequireRelease, OSDID: -1, Outcome: Failed, Message: "reading the OSD map: timed out"},
			calls: []string{"osd dump"}},
		{name: "the map names no release",
			out:  map[string]string{"osd dump": `{"flags":"sortbitwise"}`},
			want: Result{Step: StepRequireRelease, OSDID: -1, Outcome: Failed, Message: `the OSD map names no require_osd_release: "{\"flags\":\"sortbitwise\"}"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCeph{out: tc.out, fail: tc.fail}
			got := RunCluster(context.Background(), f.run, StepRequireRelease, nil)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if tc.calls != nil && !slices.Equal(f.calls, tc.calls) {
				t.Fatalf("calls %q, want %q", f.calls, tc.calls)
			}
		})
	}
}
