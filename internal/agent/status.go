package agent

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// maxMessageBytes is the schema's limit on a verdict message; a longer one
// would make the API server reject the whole status.
const maxMessageBytes = 1024

// BuildStatus turns a scan into the DiskInventory status the agent
// publishes: one entry per device, sorted by kernel name, with its stable
// identity, content hash and verdict, the summary counts, the rescan request this scan
// answers and the agent's version. LastScanTime and LastReportTime are left nil: the caller
// sets them when it publishes (see Agent.sync).
//
// Loop devices of size zero are left out. The kernel keeps a pool of
// unattached loop devices (loop0…loop7 on most hosts) that are not storage
// in any sense; listing them would report phantom TooSmall disks and make
// every attach and detach look like a change of an existing disk rather
// than a disk appearing or disappearing.
func BuildStatus(devs []discovery.Device, opts discovery.Options, observedRescanRequest int64, agentVersion string) cephv1alpha1.DiskInventoryStatus {
	st := cephv1alpha1.DiskInventoryStatus{
		ObservedRescanRequest: observedRescanRequest,
		AgentVersion:          agentVersion,
	}
	for _, d := range devs {
		if d.Type == discovery.TypeLoop && d.SizeBytes == 0 {
			continue
		}
		v := discovery.Evaluate(d, opts)
		disk := cephv1alpha1.Disk{
			Name:       d.KernelName,
			ID:         d.StableID(),
			Path:       d.DevPath,
			Links:      append([]string(nil), d.Links...),
			WWN:        d.WWN,
			Serial:     d.Serial,
			Model:      d.Model,
			Type:       d.Type,
			SizeBytes:  int64(min(d.SizeBytes, uint64(1<<63-1))),
			Rotational: d.Rotational,
			// The hash of what was read (windows and signatures): a
			// retry of a failed prepare is tied to this disk's own change.
			ContentHash: d.ContentHash,
			Verdict: cephv1alpha1.DiskVerdict{
				State:       cephv1alpha1.DiskState(v.State),
				Reason:      string(v.Reason),
				Message:     truncateUTF8(v.Message, maxMessageBytes),
				ClusterFSID: v.ClusterFSID,
				OSDUUID:     truncateUTF8(v.OSDUUID, 64),
			},
		}
		if disk.Path == "" {
			disk.Path = "/dev/" + d.KernelName
		}
		if v.State == discovery.StateOSD && v.OSDID >= 0 {
			id := int32(v.OSDID)
			disk.Verdict.OSDID = &id
		}
		st.Disks = append(st.Disks, disk)
	}
	st.Summary = Summarize(st.Disks)
	sortDisks(st.Disks)
	return st
}

// Summarize counts disks by verdict, as status.summary publishes them.
func Summarize(disks []cephv1alpha1.Disk) cephv1alpha1.DiskInventorySummary {
	var s cephv1alpha1.DiskInventorySummary
	for _, d := range disks {
		s.Disks++
		switch d.Verdict.State {
		case cephv1alpha1.DiskAvailable:
			s.Available++
		case cephv1alpha1.DiskOSD:
			s.OSDs++
		default:
			s.Rejected++
		}
	}
	return s
}

// sortDisks orders disks by name; the scanner already sorts, but the API's
// promise should not depend on that.
func sortDisks(disks []cephv1alpha1.Disk) {
	slices.SortFunc(disks, func(a, b cephv1alpha1.Disk) int { return strings.Compare(a.Name, b.Name) })
}

// truncateUTF8 shortens s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// SameContent reports whether two statuses say the same thing, ignoring
// LastScanTime and LastReportTime. It compares the JSON forms, so a status
// read back from the API server (where empty lists come back absent)
// equals the one built locally.
func SameContent(a, b cephv1alpha1.DiskInventoryStatus) bool {
	a.LastScanTime, b.LastScanTime = nil, nil
	a.LastReportTime, b.LastReportTime = nil, nil
	// The plan belongs to the operator (another field manager); the agent
	// never writes it, so it is no part of what the agent compares.
	a.Plan, b.Plan = nil, nil
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
