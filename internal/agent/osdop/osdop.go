// Package osdop is the `agent osd` subcommand: one Ceph command, run by an
// OSD Job for a step of a decommission (out, safe-to-destroy, purge,
// destroy, or in for a reversal) or of an OSD rollout (set or unset the
// noout flag, ok-to-stop for the OSDs of one failure domain), or the last
// step of a Ceph upgrade (require-osd-release). It reports
// its outcome as a JSON termination message and an exit code, so the
// planner records it before the Job is deleted.
package osdop

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	cephrel "github.com/ceph-operator/ceph-operator/internal/ceph"
)

// Steps, as the planner names them (osdplan.OSDStep).
const (
	StepOut     = "out"
	StepIn      = "in"
	StepSafe    = "safe-to-destroy"
	StepPurge   = "purge"
	StepDestroy = "destroy"
	// StepSetNoOut sets the cluster's noout flag for an OSD rollout; the
	// outcome's message is NoOutPreset when the flag was set already.
	StepSetNoOut = "set-noout"
	// StepUnsetNoOut clears the noout flag at the end of a rollout.
	StepUnsetNoOut = "unset-noout"
	// StepOKToStop asks whether the OSDs (several ids) may stop together
	// without making data unavailable.
	StepOKToStop = "ok-to-stop"
	// StepRequireRelease raises the OSD map's require_osd_release to the
	// release every running OSD runs, once they all run a newer one: the
	// last step of a Ceph upgrade, which Ceph warns about until it is done
	// (OSD_UPGRADE_FINISHED).
	StepRequireRelease = "require-osd-release"
)

// NoOutPreset is the message of a Done set-noout whose flag someone had
// set already: the rollout must leave it set when it ends.
const NoOutPreset = "noout was set already"

// ClusterStep reports whether step acts on the cluster (or several OSDs)
// rather than on one OSD.
func ClusterStep(step string) bool {
	return step == StepSetNoOut || step == StepUnsetNoOut || step == StepOKToStop || step == StepRequireRelease
}

// Outcomes (osdplan.OSDOutcome*).
const (
	Done   = "Done"
	NotYet = "NotYet"
	Never  = "Never"
	Failed = "Failed"
)

// Exit codes of agent osd for each outcome; 2 is kept for bad flags.
var exitCodes = map[string]int{Done: 0, Failed: 1, Never: 3, NotYet: 4}

// ExitCode is the exit code of outcome.
func ExitCode(outcome string) int {
	if c, ok := exitCodes[outcome]; ok {
		return c
	}
	return 1
}

// OutcomeOfExit is the outcome an exit code stands for, for a Job whose pod
// left no termination message.
func OutcomeOfExit(code int32) string {
	for o, c := range exitCodes {
		if int32(c) == code {
			return o
		}
	}
	return Failed
}

// Result is the termination message of agent osd.
type Result struct {
	Step    string  `json:"step"`
	OSDID   int32   `json:"osdID"`
	OSDIDs  []int32 `json:"osdIDs,omitempty"`
	Outcome string  `json:"outcome"`
	Message string  `json:"message,omitempty"`
}

// Ceph runs one ceph command (the words, with --format json) and returns
// its standard output, or an error ending with the tool's reason.
type Ceph func(ctx context.Context, words ...string) ([]byte, error)

// ValidStep reports whether step is one agent osd runs.
func ValidStep(step string) bool {
	return slices.Contains([]string{StepOut, StepIn, StepSafe, StepPurge, StepDestroy}, step) || ClusterStep(step)
}

// RunCluster runs a step on the cluster: set-noout, unset-noout,
// ok-to-stop for ids, or require-osd-release.
func RunCluster(ctx context.Context, ceph Ceph, step string, ids []int32) Result {
	res := Result{Step: step, OSDID: -1, OSDIDs: ids}
	switch step {
	case StepSetNoOut:
		// An admin's noout must survive the rollout: say when it was set.
		if out, err := ceph(ctx, "osd", "dump"); err == nil && hasFlag(out, "noout") {
			res.Outcome, res.Message = Done, NoOutPreset
			return res
		}
		if _, err := ceph(ctx, "osd", "set", "noout"); err != nil {
			res.Outcome, res.Message = Failed, err.Error()
			return res
		}
	case StepUnsetNoOut:
		if _, err := ceph(ctx, "osd", "unset", "noout"); err != nil {
			res.Outcome, res.Message = Failed, err.Error()
			return res
		}
	case StepOKToStop:
		if len(ids) == 0 {
			res.Outcome, res.Message = Failed, "ok-to-stop needs OSD ids"
			return res
		}
		words := []string{"osd", "ok-to-stop"}
		for _, id := range ids {
			words = append(words, strconv.Itoa(int(id)))
		}
		out, err := ceph(ctx, words...)
		if err != nil {
			// Ceph answers "unsafe to stop" with an error status.
			res.Outcome, res.Message = NotYet, err.Error()
			return res
		}
		if ok, why := okToStopAnswer(out); !ok {
			res.Outcome, res.Message = NotYet, why
			return res
		}
		if why := pgMapIncomplete(ctx, ceph, nil); why != "" {
			res.Outcome, res.Message = NotYet, "Ceph said yes, but "+why
			return res
		}
	case StepRequireRelease:
		res.Outcome, res.Message = requireRelease(ctx, ceph)
		return res
	default:
		res.Outcome, res.Message = Failed, fmt.Sprintf("unknown step %q", step)
		return res
	}
	res.Outcome = Done
	return res
}

// requireRelease raises require_osd_release to the oldest release the
// running OSDs run (`ceph osd versions`), when that is newer than what the
// OSD map requires. Ceph itself refuses while an up OSD lacks the
// release's features; an OSD that is down starts again only on that
// release or a newer one, as its pod does after an upgrade.
func requireRelease(ctx context.Context, ceph Ceph) (string, string) {
	out, err := ceph(ctx, "osd", "dump")
	if err != nil {
		return Failed, "reading the OSD map: " + err.Error()
	}
	var dump struct {
		Require string `json:"require_osd_release"`
	}
	if err := json.Unmarshal(out, &dump); err != nil || dump.Require == "" {
		return Failed, fmt.Sprintf("the OSD map names no require_osd_release: %q", shorten(string(out), 200))
	}
	required := cephrel.ReleaseMajor(dump.Require)
	if out, err = ceph(ctx, "osd", "versions"); err != nil {
		return Failed, "reading the OSDs' versions: " + err.Error()
	}
	var versions map[string]int
	if err := json.Unmarshal(out, &versions); err != nil {
		return Failed, fmt.Sprintf("the OSDs' versions cannot be read: %q", shorten(string(out), 200))
	}
	oldest := 0
	for v, n := range versions {
		m := versionMajor.FindStringSubmatch(v)
		if m == nil || n <= 0 {
			return Failed, fmt.Sprintf("no Ceph version in %q", shorten(v, 200))
		}
		major, _ := strconv.Atoi(m[1])
		if oldest == 0 || major < oldest {
			oldest = major
		}
	}
	name, known := cephrel.ReleaseName(oldest)
	switch {
	case oldest == 0:
		return NotYet, "no running OSD reports its version"
	case required < 0:
		return Failed, fmt.Sprintf("require_osd_release %q is not a release this operator knows; it is left as it is", dump.Require)
	case required >= oldest:
		return Done, fmt.Sprintf("require_osd_release is %s and the oldest running OSD runs Ceph %d: nothing to raise", dump.Require, oldest)
	case !known:
		return Failed, fmt.Sprintf("the running OSDs run Ceph %d or later, a release this operator cannot name for require-osd-release", oldest)
	}
	if _, err := ceph(ctx, "osd", "require-osd-release", name); err != nil {
		return Failed, err.Error()
	}
	return Done, fmt.Sprintf("require_osd_release raised from %s to %s: every running OSD runs Ceph %d or later", dump.Require, name, oldest)
}

// versionMajor finds the major version in a `ceph versions` key such as
// "ceph version 18.2.7 (6b0e...) reef (stable)".
var versionMajor = regexp.MustCompile(`ceph version (\d+)\.\d+\.\d+`)

// hasFlag reports whether the OSD map (`ceph osd dump` as JSON) has flag
// set: in "flags", a comma-separated list, or "flags_set".
func hasFlag(dump []byte, flag string) bool {
	var d struct {
		Flags    string   `json:"flags"`
		FlagsSet []string `json:"flags_set"`
	}
	if json.Unmarshal(dump, &d) != nil {
		return false
	}
	return slices.Contains(strings.Split(d.Flags, ","), flag) || slices.Contains(d.FlagsSet, flag)
}

// okToStopAnswer reads the formatted answer of a successful `ceph osd
// ok-to-stop`: some releases give it with a zero status and a false
// ok_to_stop. Output that is not such an object is no yes.
func okToStopAnswer(out []byte) (bool, string) {
	var ans struct {
		OK       *bool `json:"ok_to_stop"`
		NotOKPGs int   `json:"num_not_ok_pgs"`
	}
	if json.Unmarshal(out, &ans) != nil || ans.OK == nil {
		return false, fmt.Sprintf("Ceph's answer to ok-to-stop cannot be read: %q", shorten(string(out), 200))
	}
	if *ans.OK {
		return true, ""
	}
	return false, fmt.Sprintf("Ceph says stopping them now would leave %d placement groups unavailable", ans.NotOKPGs)
}

// Run runs step on OSD id. failureDomain (host or osd) is the CRUSH level
// the cluster's pools spread copies over, for the never-safe rule.
func Run(ctx context.Context, ceph Ceph, step string, id int32, failureDomain string) Result {
	res := Result{Step: step, OSDID: id}
	name := strconv.Itoa(int(id))
	var words []string
	switch step {
	case StepOut:
		words = []string{"osd", "out", name}
	case StepIn:
		words = []string{"osd", "in", name}
	case StepPurge:
		words = []string{"osd", "purge", name, "--yes-i-really-mean-it"}
	case StepDestroy:
		words = []string{"osd", "destroy", name, "--yes-i-really-mean-it"}
	case StepSafe:
		return safe(ctx, ceph, id, failureDomain)
	default:
		res.Outcome, res.Message = Failed, fmt.Sprintf("unknown step %q", step)
		return res
	}
	if _, err := ceph(ctx, words...); err != nil {
		res.Outcome, res.Message = Failed, err.Error()
		return res
	}
	res.Outcome = Done
	return res
}

// safe asks Ceph whether OSD id can be destroyed without reducing the
// durability of any data. When it says not yet, the OSD map tells whether
// it can ever say yes as the cluster stands: a pool keeping n copies needs
// n other OSDs (or hosts, with failure domain host) up and in.
func safe(ctx context.Context, ceph Ceph, id int32, failureDomain string) Result {
	res := Result{Step: StepSafe, OSDID: id}
	out, err := ceph(ctx, "osd", "safe-to-destroy", strconv.Itoa(int(id)))
	if err == nil {
		ok, why := safeAnswer(out, id)
		if ok {
			// Ceph's yes is about the placement groups its manager
			// knows; it is taken only when it knows all of them.
			if why := pgMapIncomplete(ctx, ceph, &id); why != "" {
				res.Outcome, res.Message = NotYet, "Ceph said yes, but "+why
				return res
			}
			res.Outcome = Done
			return res
		}
		err = fmt.Errorf("%s", why)
	}
	res.Outcome, res.Message = NotYet, err.Error()
	dump, derr := ceph(ctx, "osd", "dump")
	if derr != nil {
		return res
	}
	var tree []byte
	if failureDomain != "osd" {
		if tree, derr = ceph(ctx, "osd", "tree"); derr != nil {
			return res
		}
	}
	if never := NeverSafe(dump, tree, id); never != "" {
		res.Outcome, res.Message = Never, never
	}
	return res
}

// safeAnswer reads the formatted answer of `ceph osd safe-to-destroy`,
// which some releases give with a zero exit status whatever it says: the
// OSD is safe only when it is listed in safe_to_destroy. Anything else,
// an answer that cannot be read included, is no yes.
func safeAnswer(out []byte, id int32) (bool, string) {
	var ans struct {
		Safe      *[]int32 `json:"safe_to_destroy"`
		Active    []int32  `json:"active"`
		Missing   []int32  `json:"missing_stats"`
		StoredPGs []string `json:"stored_pgs"`
	}
	if json.Unmarshal(out, &ans) != nil || ans.Safe == nil {
		return false, fmt.Sprintf("Ceph's answer to safe-to-destroy cannot be read: %q", shorten(string(out), 200))
	}
	if slices.Contains(*ans.Safe, id) {
		return true, ""
	}
	var why []string
	if len(ans.Active) > 0 {
		why = append(why, fmt.Sprintf("OSD %d is still up and holds data", id))
	}
	if len(ans.Missing) > 0 {
		why = append(why, "Ceph has no statistics for it yet")
	}
	if len(ans.StoredPGs) > 0 {
		why = append(why, fmt.Sprintf("%d placement groups are still stored on it", len(ans.StoredPGs)))
	}
	if len(why) == 0 {
		why = append(why, "Ceph does not list it as safe to destroy")
	}
	return false, strings.Join(why, "; ")
}

// NeverSafe returns why OSD id can never be safe to destroy as the cluster
// stands ("" when it can), from `ceph osd dump` and, for failure domain
// host, `ceph osd tree` (nil for failure domain osd).
func NeverSafe(dump, tree []byte, id int32) string {
	var d struct {
		Pools []struct {
			Name string `json:"pool_name"`
			Size int    `json:"size"`
		} `json:"pools"`
		OSDs []struct {
			OSD int32 `json:"osd"`
			Up  int   `json:"up"`
			In  int   `json:"in"`
		} `json:"osds"`
	}
	if json.Unmarshal(dump, &d) != nil {
		return ""
	}
	others := map[int32]bool{}
	for _, o := range d.OSDs {
		if o.OSD != id && o.Up == 1 && o.In == 1 {
			others[o.OSD] = true
		}
	}
	count, unit := len(others), "OSDs"
	if tree != nil {
		var t struct {
			Nodes []struct {
				Type     string  `json:"type"`
				Children []int32 `json:"children"`
			} `json:"nodes"`
		}
		if json.Unmarshal(tree, &t) != nil {
			return ""
		}
		hosts := 0
		for _, n := range t.Nodes {
			if n.Type == "host" && slices.ContainsFunc(n.Children, func(c int32) bool { return others[c] }) {
				hosts++
			}
		}
		count, unit = hosts, "hosts"
	}
	for _, p := range d.Pools {
		if p.Size > count {
			return fmt.Sprintf("pool %s keeps %d copies and only %d other %s are up and in", p.Name, p.Size, count, unit)
		}
	}
	return ""
}

// Encode is the termination message for res: JSON of at most 4096 bytes.
func Encode(res Result) []byte {
	for {
		b, err := json.Marshal(res)
		if err != nil || len(b) <= 4096 || res.Message == "" {
			return b
		}
		res.Message = res.Message[:len(res.Message)/2]
	}
}

// pgMapIncomplete returns why the manager's placement group map cannot be
// trusted to say where all data is, "" when it can. Ceph's safe-to-destroy
// counts only the placement groups its manager has statistics of: a
// manager that started moments ago (a restart, a failover, the cluster
// created again) has not heard from every OSD and may say yes about an
// OSD that holds the only up-to-date copy of some data. The map is
// trusted when the manager says it has heard from every up OSD
// (pg_ready), it knows every placement group of every pool in the OSD
// map, none is in the unknown state, and, when id is given, none maps to
// OSD id.
func pgMapIncomplete(ctx context.Context, ceph Ceph, id *int32) string {
	out, err := ceph(ctx, "pg", "dump", "pgs_brief")
	if err != nil {
		return "its placement group map cannot be read: " + err.Error()
	}
	var pgs struct {
		Ready *bool `json:"pg_ready"`
		Stats []struct {
			PGID   string  `json:"pgid"`
			State  string  `json:"state"`
			Up     []int32 `json:"up"`
			Acting []int32 `json:"acting"`
		} `json:"pg_stats"`
	}
	if err := json.Unmarshal(out, &pgs); err != nil {
		return fmt.Sprintf("its placement group map cannot be read: %v", err)
	}
	if pgs.Ready == nil || !*pgs.Ready {
		return "its manager has not yet heard from every OSD since it started, so it may not know where all data is"
	}
	dump, err := ceph(ctx, "osd", "dump")
	if err != nil {
		return "the OSD map cannot be read: " + err.Error()
	}
	var d struct {
		Pools []struct {
			PGNum *int `json:"pg_num"`
		} `json:"pools"`
	}
	if err := json.Unmarshal(dump, &d); err != nil {
		return fmt.Sprintf("the OSD map cannot be read: %v", err)
	}
	want := 0
	for _, p := range d.Pools {
		if p.PGNum == nil {
			return "the OSD map does not say how many placement groups a pool has"
		}
		want += *p.PGNum
	}
	if len(pgs.Stats) < want {
		return fmt.Sprintf("its manager knows %d of the %d placement groups of the pools, so it may not know where all data is", len(pgs.Stats), want)
	}
	for _, pg := range pgs.Stats {
		if slices.Contains(strings.Split(pg.State, "+"), "unknown") {
			return fmt.Sprintf("placement group %s is unknown, so it may not know where all data is", pg.PGID)
		}
		if id != nil && (slices.Contains(pg.Up, *id) || slices.Contains(pg.Acting, *id)) {
			return fmt.Sprintf("placement group %s still maps to OSD %d (up %v, acting %v)", pg.PGID, *id, pg.Up, pg.Acting)
		}
	}
	return ""
}

// shorten cuts s to at most n bytes, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
