package ceph

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// DefaultStatusRefresh is how often the reporter re-publishes a status that
// did not change, so that readers can tell a quiet cluster from a reporter
// that stopped.
const DefaultStatusRefresh = 5 * time.Minute

// DefaultStatusMaxAge is the age beyond which a health report no longer
// counts: twice the reporter's refresh period, so one late or failed write
// does not flip Ready.
const DefaultStatusMaxAge = 2 * DefaultStatusRefresh

// maxCheckCodeLength is the schema's limit on a health check code.
const maxCheckCodeLength = 64

// rawStatus is the part of `ceph status --format json` the operator reads.
// Ceph prints many more fields; unknown ones are ignored so newer releases
// parse as long as these keep their meaning.
type rawStatus struct {
	FSID   string `json:"fsid"`
	Health *struct {
		Status string              `json:"status"`
		Checks map[string]rawCheck `json:"checks"`
	} `json:"health"`
	QuorumNames []string `json:"quorum_names"`
	MonMap      struct {
		NumMons json.Number `json:"num_mons"`
	} `json:"monmap"`
	OSDMap rawOSDMap `json:"osdmap"`
	PGMap  struct {
		BytesTotal json.Number `json:"bytes_total"`
		BytesUsed  json.Number `json:"bytes_used"`
		BytesAvail json.Number `json:"bytes_avail"`
	} `json:"pgmap"`
}

// rawOSDMap holds the OSD counts. Up to Nautilus (14.2) they were nested one
// level deeper, under osdmap.osdmap; from Octopus on they are directly in
// osdmap. Both shapes are accepted.
type rawOSDMap struct {
	NumOSDs   json.Number `json:"num_osds"`
	NumUpOSDs json.Number `json:"num_up_osds"`
	NumInOSDs json.Number `json:"num_in_osds"`
	Nested    *struct {
		NumOSDs   json.Number `json:"num_osds"`
		NumUpOSDs json.Number `json:"num_up_osds"`
		NumInOSDs json.Number `json:"num_in_osds"`
	} `json:"osdmap"`
}

type rawCheck struct {
	Severity string `json:"severity"`
	Summary  struct {
		Message string `json:"message"`
	} `json:"summary"`
	Muted bool `json:"muted"`
}

// ParseStatus turns the output of `ceph status --format json` into the
// status.ceph the reporter publishes, bounded to what the schema accepts:
// at most cephv1alpha1.MaxCephHealthChecks checks (errors first, then unmuted
// ones, then by code; the rest counted in ChecksOmitted), messages cut at
// cephv1alpha1.MaxCephMessageLength bytes. LastChecked and Message are left
// empty: they are the reporter's to fill.
//
// It fails when the output is not a JSON object with an fsid and a health
// status Ceph is known to report, so that a truncated or foreign output is
// never published as a health verdict.
func ParseStatus(out []byte) (cephv1alpha1.CephStatus, error) {
	var raw rawStatus
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return cephv1alpha1.CephStatus{}, fmt.Errorf("decoding ceph status output: %w", err)
	}
	if raw.FSID == "" {
		return cephv1alpha1.CephStatus{}, errors.New("ceph status output has no fsid")
	}
	if raw.Health == nil {
		return cephv1alpha1.CephStatus{}, errors.New("ceph status output has no health section")
	}
	health, ok := parseHealth(raw.Health.Status)
	if !ok {
		return cephv1alpha1.CephStatus{}, fmt.Errorf("ceph status reports an unknown health %q", truncateUTF8(raw.Health.Status, 64))
	}
	st := cephv1alpha1.CephStatus{
		Health: health,
		FSID:   truncateUTF8(raw.FSID, 64),
	}

	seen := make(map[string]bool, len(raw.Health.Checks))
	for code, c := range raw.Health.Checks {
		sev, ok := parseHealth(c.Severity)
		if !ok || sev == cephv1alpha1.CephHealthOK {
			return cephv1alpha1.CephStatus{}, fmt.Errorf("health check %q has an unknown severity %q", truncateUTF8(code, maxCheckCodeLength), truncateUTF8(c.Severity, 64))
		}
		code = truncateUTF8(code, maxCheckCodeLength)
		if code == "" || seen[code] {
			// An empty code cannot be a list-map key, and two codes that
			// only differ past the length limit would collide; neither
			// happens with Ceph's own codes.
			continue
		}
		seen[code] = true
		st.Checks = append(st.Checks, cephv1alpha1.CephHealthCheck{
			Code:     code,
			Severity: sev,
			Message:  truncateUTF8(c.Summary.Message, cephv1alpha1.MaxCephMessageLength),
			Muted:    c.Muted,
		})
	}
	slices.SortFunc(st.Checks, compareChecks)
	if n := len(st.Checks); n > cephv1alpha1.MaxCephHealthChecks {
		st.ChecksOmitted = int32(n - cephv1alpha1.MaxCephHealthChecks)
		st.Checks = st.Checks[:cephv1alpha1.MaxCephHealthChecks]
	}

	quorum := raw.QuorumNames
	st.Monitors.InQuorum = clampInt32(int64(len(quorum)))
	st.Monitors.Total = clampInt32(number(raw.MonMap.NumMons))
	for _, name := range quorum[:min(len(quorum), cephv1alpha1.MaxCephQuorumNames)] {
		st.Monitors.Quorum = append(st.Monitors.Quorum, truncateUTF8(name, 64))
	}

	osds := raw.OSDMap
	total, up, in := osds.NumOSDs, osds.NumUpOSDs, osds.NumInOSDs
	if osds.Nested != nil {
		total, up, in = osds.Nested.NumOSDs, osds.Nested.NumUpOSDs, osds.Nested.NumInOSDs
	}
	st.OSDs = cephv1alpha1.CephOSDStatus{
		Total: clampInt32(number(total)),
		Up:    clampInt32(number(up)),
		In:    clampInt32(number(in)),
	}
	st.Capacity = cephv1alpha1.CephCapacity{
		TotalBytes:     number(raw.PGMap.BytesTotal),
		UsedBytes:      number(raw.PGMap.BytesUsed),
		AvailableBytes: number(raw.PGMap.BytesAvail),
	}
	return st, nil
}

// compareChecks orders errors before warnings, unmuted before muted, then by
// code, so that the checks kept when the list is cut are the ones that
// matter.
func compareChecks(a, b cephv1alpha1.CephHealthCheck) int {
	if c := cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)); c != 0 {
		return c
	}
	if a.Muted != b.Muted {
		if a.Muted {
			return 1
		}
		return -1
	}
	return strings.Compare(a.Code, b.Code)
}

func severityRank(h cephv1alpha1.CephHealth) int {
	switch h {
	case cephv1alpha1.CephHealthErr:
		return 2
	case cephv1alpha1.CephHealthWarn:
		return 1
	default:
		return 0
	}
}

func parseHealth(s string) (cephv1alpha1.CephHealth, bool) {
	switch h := cephv1alpha1.CephHealth(s); h {
	case cephv1alpha1.CephHealthOK, cephv1alpha1.CephHealthWarn, cephv1alpha1.CephHealthErr:
		return h, true
	default:
		return "", false
	}
}

// number reads a non-negative integer, as Ceph prints counts and byte
// sizes. Anything else (absent, negative, fractional, out of range) reads as
// 0 or is clamped, rather than failing the whole report over one figure.
func number(n json.Number) int64 {
	if n == "" {
		return 0
	}
	if i, err := n.Int64(); err == nil {
		return max(i, 0)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

func clampInt32(i int64) int32 {
	return int32(min(max(i, 0), math.MaxInt32))
}

// truncateUTF8 shortens s to at most n bytes without splitting a rune,
// marking the cut with an ellipsis.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := max(n-len(ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// AllowedWarnings are the health checks that do not keep a cluster from
// being Ready. Each is a consequence of a cluster being small by design,
// never of something having failed, and each was seen on a real one-host
// test cluster (internal/ceph/testdata/status):
//
//   - TOO_FEW_OSDS ("OSD count 1 < osd_pool_default_size 3"): fewer OSDs
//     than the default replica count, as while the first OSDs come up or on
//     a test cluster. Pools that really lack OSDs also raise
//     PG_AVAILABILITY or PG_DEGRADED, which are not allowed, so data at
//     risk still shows.
//   - POOL_NO_REDUNDANCY ("1 pool(s) have no replicas configured"): a pool
//     of size 1, which Ceph only creates after two explicit confirmations
//     (mon_allow_pool_size_one and --yes-i-really-mean-it).
//
// Deliberately not allowed, although a fresh test cluster shows them:
// AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED (a security warning, cured by
// auth_allow_insecure_global_id_reclaim = false once every client is
// current) and MON_DISK_LOW (a real risk: a monitor stops at 5% free).
// Any other warning can be accepted by muting it in Ceph
// (`ceph health mute CODE`): muted checks do not count.
func AllowedWarnings() []string {
	return []string{"POOL_NO_REDUNDANCY", "TOO_FEW_OSDS"}
}

// HealthReady is the rule the CephCluster's Ready condition applies to
// status.ceph. It is true only when:
//
//   - a report exists and was checked at most maxAge before now (the
//     reporter re-publishes an unchanged status every DefaultStatusRefresh,
//     so maxAge must be larger: DefaultStatusMaxAge);
//   - the last `ceph status` succeeded;
//   - the monitors that answered are those of fsid (when fsid is set);
//   - Ceph's health is HEALTH_OK, or HEALTH_WARN where every unmuted check
//     is one of AllowedWarnings and none was left out of the list.
//
// HEALTH_ERR is never Ready. reason is one of the cephv1alpha1.ReasonCeph*
// constants; message says what was found, for the condition's message.
func HealthReady(st *cephv1alpha1.CephStatus, fsid string, now time.Time, maxAge time.Duration) (ok bool, reason, message string) {
	if st == nil || st.LastChecked == nil {
		return false, cephv1alpha1.ReasonCephStatusUnknown, "No Ceph health report yet (status.ceph is published by the reporter next to the mgr)"
	}
	if age := now.Sub(st.LastChecked.Time); age > maxAge {
		return false, cephv1alpha1.ReasonCephStatusStale, fmt.Sprintf("The last Ceph health report is %s old (more than %s): the reporter is not running or cannot write", age.Truncate(time.Second), maxAge)
	}
	if st.Message != "" || st.Health == "" {
		msg := st.Message
		if msg == "" {
			msg = "no health in the report"
		}
		return false, cephv1alpha1.ReasonCephStatusFailed, "ceph status failed: " + msg
	}
	if fsid != "" && st.FSID != fsid {
		return false, cephv1alpha1.ReasonCephFSIDMismatch, fmt.Sprintf("The monitors answering belong to Ceph cluster %s, not %s", st.FSID, fsid)
	}
	switch st.Health {
	case cephv1alpha1.CephHealthOK:
		return true, cephv1alpha1.ReasonCephHealthy, withMuted("HEALTH_OK", st)
	case cephv1alpha1.CephHealthErr:
		msg := "HEALTH_ERR: " + describeChecks(st, nil)
		if OnlyKeyTypeChecks(st) {
			msg += ". " + keyTypeHint
		}
		return false, cephv1alpha1.ReasonCephHealthErr, msg
	}
	allowed := AllowedWarnings()
	var blocking, accepted int
	for _, c := range st.Checks {
		switch {
		case c.Muted:
		case c.Severity == cephv1alpha1.CephHealthWarn && slices.Contains(allowed, c.Code):
			accepted++
		default:
			blocking++
		}
	}
	if blocking > 0 || st.ChecksOmitted > 0 || accepted == 0 {
		// accepted == 0: HEALTH_WARN with no unmuted check listed; Ceph
		// says something is wrong without saying what, so it is not
		// taken as healthy.
		msg := "HEALTH_WARN: " + describeChecks(st, allowed)
		if onlyRotatingKeys(st, allowed) {
			msg += ". " + rotatingKeysHint
		}
		return false, cephv1alpha1.ReasonCephHealthWarn, msg
	}
	return true, cephv1alpha1.ReasonCephHealthy, withMuted("HEALTH_WARN with only warnings a small cluster always has: "+describeChecks(st, nil), st)
}

// KeyTypeChecks are the health checks Ceph 20.2.4 (Tentacle) raises, as
// errors, on a cluster whose cephx keys and monitor settings are of the
// AES type of earlier releases: a cluster created before it and upgraded
// keeps them (design 0007) until spec.security.cephx.keyType asks for
// AES-256 keys (design 0009).
var KeyTypeChecks = []string{
	"AUTH_INSECURE_SERVICE_KEY_TYPE", "AUTH_INSECURE_CLIENT_KEY_TYPE", "AUTH_INSECURE_ROTATING_SERVICE_KEY_TYPE",
	"AUTH_INSECURE_SERVICE_TICKETS", "AUTH_INSECURE_KEYS_ALLOWED", "AUTH_INSECURE_KEYS_CREATABLE",
}

// keyTypeHint explains a HEALTH_ERR of KeyTypeChecks alone.
const keyTypeHint = "Only the cephx key type is at fault: the cluster was created on a Ceph release before 20.2.4 " +
	"and keeps its AES keys, which Ceph 20.2.4 reports as insecure; the daemons and clients still authenticate " +
	"and data stays available. spec.security.cephx.keyType: aes256k moves them to AES-256 keys without stopping an OSD " +
	"(condition CephxKeysMigrated; see the operations guide, \"cephx keys after an upgrade to Ceph 20\")"

// CheckRotatingKeys is the warning Ceph raises while rotating service keys
// of the AES type are left, after every key was moved to AES-256.
const CheckRotatingKeys = "AUTH_INSECURE_ROTATING_SERVICE_KEY_TYPE"

// rotatingKeysHint explains a HEALTH_WARN of CheckRotatingKeys.
const rotatingKeysHint = "Only the monitors' rotating service keys are still AES ones: each is replaced by an AES-256 one " +
	"as it expires, within three times auth_service_ticket_ttl (3 h by default), and the warning then clears by itself; " +
	"spec.security.cephx.rotatingServiceKeys: Replace replaces them at once"

// onlyRotatingKeys reports whether CheckRotatingKeys is the one unmuted
// check of st besides those of allowed.
func onlyRotatingKeys(st *cephv1alpha1.CephStatus, allowed []string) bool {
	found := false
	for _, c := range st.Checks {
		switch {
		case c.Muted || slices.Contains(allowed, c.Code):
		case c.Code == CheckRotatingKeys:
			found = true
		default:
			return false
		}
	}
	return found
}

// OnlyKeyTypeChecks reports whether every unmuted check of st is one of
// KeyTypeChecks (and there is one).
func OnlyKeyTypeChecks(st *cephv1alpha1.CephStatus) bool {
	n := 0
	for _, c := range st.Checks {
		if c.Muted {
			continue
		}
		if !slices.Contains(KeyTypeChecks, c.Code) {
			return false
		}
		n++
	}
	return n > 0 && st.ChecksOmitted == 0
}

// describeChecks lists the unmuted checks as "CODE: message", those not in
// skip first, and says how many were left out of the report.
func describeChecks(st *cephv1alpha1.CephStatus, skip []string) string {
	var first, last []string
	for _, c := range st.Checks {
		if c.Muted {
			continue
		}
		s := c.Code
		if c.Message != "" {
			s += " (" + c.Message + ")"
		}
		if slices.Contains(skip, c.Code) {
			last = append(last, s)
		} else {
			first = append(first, s)
		}
	}
	parts := slices.Concat(first, last)
	if st.ChecksOmitted > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", st.ChecksOmitted))
	}
	if len(parts) == 0 {
		return "no check listed"
	}
	return strings.Join(parts, "; ")
}

// withMuted appends the codes of muted checks to msg, so that a Ready
// cluster still says what an operator chose to ignore.
func withMuted(msg string, st *cephv1alpha1.CephStatus) string {
	var muted []string
	for _, c := range st.Checks {
		if c.Muted {
			muted = append(muted, c.Code)
		}
	}
	if len(muted) == 0 {
		return msg
	}
	return msg + " (muted: " + strings.Join(muted, ", ") + ")"
}

// StatusTime is the timestamp the reporter records in LastChecked: the API
// serialises times to the second, so anything finer would make a status
// read back from the server differ from the one written.
func StatusTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}
