package osdplan

import (
	"encoding/json"
	"fmt"
	"sort"
	"unicode/utf8"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// MaxMessageLength is the schema's bound on a DevicePlan's message, in
// characters. A longer one would make the API server refuse the whole
// status.plan of the node, so every message is cut to fit.
const MaxMessageLength = 1024

// ellipsis marks where a message was cut.
const ellipsis = "…"

// Truncate returns s cut to at most maxRunes characters (Unicode code points,
// which is what the schema counts), never inside a UTF-8 sequence, ending
// with an ellipsis when it was cut. Invalid UTF-8 is replaced, as the API
// server would refuse it.
func Truncate(s string, maxRunes int) string {
	if !utf8.ValidString(s) {
		s = toValidUTF8(s)
	}
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	if maxRunes <= 0 {
		return ""
	}
	n := 0
	for i := range s {
		if n == maxRunes-1 {
			return s[:i] + ellipsis
		}
		n++
	}
	return s
}

// FitMessage joins head, label and tail within maxRunes characters. When they
// do not fit, the tail is cut at its start, because the end of a tool's
// output (ceph-volume's stderr) is where the error is; the head is cut only
// as far as needed to keep up to minTail characters of the tail.
func FitMessage(head, label, tail string, maxRunes int) string {
	head, tail = toValidUTF8(head), toValidUTF8(tail)
	if tail == "" {
		return Truncate(head, maxRunes)
	}
	const minTail = 256
	sep := "; "
	if label == "" {
		sep = ""
	}
	tailLen := utf8.RuneCountInString(tail)
	prefix := head + sep + label
	if limit := maxRunes - min(tailLen, minTail); utf8.RuneCountInString(prefix) > limit {
		prefix = Truncate(head, limit-utf8.RuneCountInString(sep+label)) + sep + label
	}
	room := maxRunes - utf8.RuneCountInString(prefix)
	switch {
	case room >= tailLen:
		return prefix + tail
	case room <= 1:
		return Truncate(prefix, maxRunes)
	}
	runes := []rune(tail)
	return prefix + ellipsis + string(runes[len(runes)-(room-1):])
}

// toValidUTF8 replaces invalid UTF-8 sequences.
func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, r)
	}
	return string(out)
}

// FailureRecordsAnnotation on a DiskInventory keeps, for each disk whose
// plan carries a failed or refused prepare attempt, the disk's content hash
// (status.disks[].contentHash) at that attempt, as a JSON object from disk
// id to hash. The attempt count and backoff are reset, and a refused disk
// is tried again, only when the disk's own hash differs from it. Removing a
// disk's entry asks for a retry. The operator writes it; the schema has no
// field for it.
const FailureRecordsAnnotation = "ceph.cephoperator.io/prepare-failure-content"

// ParseFailureRecords reads FailureRecordsAnnotation; empty is none.
func ParseFailureRecords(v string) (map[string]string, error) {
	out := map[string]string{}
	if v == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return map[string]string{}, fmt.Errorf("annotation %s is not a JSON object of strings: %w", FailureRecordsAnnotation, err)
	}
	return out, nil
}

// FormatFailureRecords writes FailureRecordsAnnotation; none is empty.
func FormatFailureRecords(records map[string]string) string {
	if len(records) == 0 {
		return ""
	}
	// encoding/json sorts map keys: the value is deterministic.
	b, err := json.Marshal(records)
	if err != nil {
		return ""
	}
	return string(b)
}

// Unschedule takes back the prepare Job planned for node, when the
// reconciler could not create it because a Job of that name already exists
// at the API server although the cache did not show it (created moments
// ago, or by another operator replica). Its disks wait with a message
// instead of claiming a Job that is not theirs; the next plan, from a
// cache that shows the Job, decides again.
func (p *Plan) Unschedule(node, existing string) {
	for i, j := range p.CreateJobs {
		if j.Node != node {
			continue
		}
		in := map[string]bool{}
		for _, d := range j.Devices {
			in[d.ID] = true
		}
		// A copy: the plans of a node may be shared with the Memo that
		// computed them.
		plans := append([]cephv1alpha1.DevicePlan(nil), p.DevicePlans[node]...)
		p.DevicePlans[node] = plans
		for k := range plans {
			if in[plans[k].ID] && plans[k].Action == cephv1alpha1.ActionWiping {
				plans[k].Action, plans[k].Reason = cephv1alpha1.ActionLeftOut, ReasonWaitingForTurn
				plans[k].Message = fmt.Sprintf("to be wiped: waits for Job %s of this node, which exists but is not yet known to this operator: a node runs one prepare or wipe Job at a time", existing)
			}
			if in[plans[k].ID] && plans[k].Action == cephv1alpha1.ActionPreparing {
				plans[k].Action, plans[k].Reason = cephv1alpha1.ActionWouldProvision, ReasonWaitingForTurn
				plans[k].Message = fmt.Sprintf("waits for prepare Job %s of this node, which exists but is not yet known to this operator: a node runs one prepare Job at a time", existing)
				p.Counts.Preparing--
			}
		}
		p.CreateJobs = append(p.CreateJobs[:i:i], p.CreateJobs[i+1:]...)
		sort.Slice(p.CreateJobs, func(a, b int) bool { return p.CreateJobs[a].Node < p.CreateJobs[b].Node })
		return
	}
}
