package prepare

import (
	"bytes"
	"encoding/json"
	"sort"
)

// TerminationMessageLimit is the most Kubernetes keeps of a container's
// termination message.
const TerminationMessageLimit = 4096

// TerminationMessage encodes results as a JSON array of at most limit bytes
// (TerminationMessageLimit when limit <= 0), always valid JSON. When the
// whole does not fit it shortens, in this order, until it does:
//
//  1. stderr tails (keeping their end, where the error is) and messages
//     (keeping their start), all to one common length, the longest that
//     fits; a cut is marked with "…" (at length 0 both are left out);
//  2. the OSD uuids of Prepared results (the OSD id stays);
//  3. whole results, Prepared ones first, then Refused, keeping Failed
//     ones longest; the full list is in the pod log.
//
// The order of the kept results is that of results.
func TerminationMessage(results []Result, limit int) []byte {
	if limit <= 0 {
		limit = TerminationMessageLimit
	}
	if b := encode(results); len(b) <= limit {
		return b
	}
	rs := append([]Result(nil), results...)
	longest := 0
	for _, r := range rs {
		longest = max(longest, len(r.Message), len(r.Stderr))
	}
	fits := func(n int) bool { return len(encode(capFields(rs, n))) <= limit }
	// The largest cap that fits; fits is monotonic in the cap.
	n := sort.Search(longest+1, func(n int) bool { return !fits(n) }) - 1
	if n >= 0 {
		return encode(capFields(rs, n))
	}
	rs = capFields(rs, 0)
	for i := range rs {
		if rs[i].Outcome == OutcomePrepared {
			rs[i].OSDUUID = ""
		}
	}
	// Drop results, least informative first, until the rest fits.
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	rank := map[string]int{OutcomePrepared: 0, OutcomeRefused: 1, OutcomeFailed: 2}
	sort.SliceStable(order, func(a, b int) bool { return rank[rs[order[a]].Outcome] < rank[rs[order[b]].Outcome] })
	dropped := map[int]bool{}
	for _, i := range order {
		kept := make([]Result, 0, len(rs))
		for j, r := range rs {
			if !dropped[j] {
				kept = append(kept, r)
			}
		}
		if b := encode(kept); len(b) <= limit {
			return b
		}
		dropped[i] = true
	}
	return []byte("[]")
}

// capFields returns a copy of rs with every message and stderr cut to at
// most n bytes plus the cut mark.
func capFields(rs []Result, n int) []Result {
	out := make([]Result, len(rs))
	for i, r := range rs {
		switch {
		case n == 0:
			r.Message, r.Stderr = "", ""
		case len(r.Message) > n:
			r.Message = keepStart(r.Message, n) + "…"
		}
		if len(r.Stderr) > n {
			r.Stderr = "…" + keepEnd(r.Stderr, n)
		}
		out[i] = r
	}
	return out
}

// encode marshals without HTML escaping ('<' stays '<'), so messages read
// as written and take no more room than needed.
func encode(rs []Result) []byte {
	if rs == nil {
		rs = []Result{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(rs)
	return bytes.TrimRight(buf.Bytes(), "\n")
}
