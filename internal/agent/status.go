package agent

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
	"github.com/ceph-operator/ceph-operator/internal/smart"
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
		disk.Health = diskHealth(d.Health)
		if disk.Path == "" {
			disk.Path = "/dev/" + d.KernelName
		}
		if v.State == discovery.StateOSD && v.OSDID >= 0 {
			id := int32(v.OSDID)
			disk.Verdict.OSDID = &id
		}
		// Also while the device is rejected (in use, for one): the OSDs
		// whose DB is there are found by them all the same.
		disk.Partitions = metadataPartitions(d, opts.ClusterFSID)
		st.Disks = append(st.Disks, disk)
	}
	st.Summary = Summarize(st.Disks)
	sortDisks(st.Disks)
	return st
}

// metadataPartitions lists the DB, WAL and OSD data partitions of the
// operator's scheme on a disk for the inventory, in GPT order, within the
// schema's bounds; a data partition names its OSD when it carries a
// complete label of the cluster fsid.
func metadataPartitions(d discovery.Device, fsid string) []cephv1alpha1.DiskPartition {
	var out []cephv1alpha1.DiskPartition
	for _, p := range d.GPTPartitions {
		role, _, ok := p.Role()
		if !ok || len(out) == 128 {
			continue
		}
		r := cephv1alpha1.PartitionDB
		switch role {
		case gpt.RoleWAL:
			r = cephv1alpha1.PartitionWAL
		case gpt.RoleOSD:
			r = cephv1alpha1.PartitionData
		}
		dp := cephv1alpha1.DiskPartition{
			Number:     int32(p.Number),
			Name:       truncateUTF8(p.Name, 64),
			PartUUID:   p.PartUUID,
			Label:      truncateUTF8(p.Label, 72),
			Role:       r,
			StartBytes: p.StartBytes,
			SizeBytes:  p.SizeBytes,
			OSDUUID:    truncateUTF8(p.OSDUUID(), 64),
		}
		if id := p.OSDID(fsid); role == gpt.RoleOSD && id >= 0 {
			v := int32(id)
			dp.OSDID = &v
		}
		out = append(out, dp)
	}
	return out
}

// diskHealth converts a health reading into its API form, keeping every
// value within the schema's bounds: a value out of them would make the API
// server reject the whole status.
func diskHealth(h *smart.Health) *cephv1alpha1.DiskHealth {
	if h == nil {
		return nil
	}
	out := &cephv1alpha1.DiskHealth{
		Status:                      cephv1alpha1.DiskHealthStatus(h.Status),
		Message:                     truncateUTF8(h.Message, maxMessageBytes),
		Protocol:                    truncateUTF8(h.Protocol, 16),
		ReallocatedSectors:          nonNegative(h.ReallocatedSectors),
		PendingSectors:              nonNegative(h.PendingSectors),
		OfflineUncorrectableSectors: nonNegative(h.OfflineUncorrectable),
		MediaErrors:                 nonNegative(h.MediaErrors),
		PowerOnHours:                nonNegative(h.PowerOnHours),
	}
	if w := h.NVMeCriticalWarning; w != nil && *w >= 0 && *w <= 255 {
		v := int32(*w)
		out.NVMeCriticalWarning = &v
	}
	if p := h.PercentageUsed; p != nil && *p >= 0 {
		// The drive reports one byte: 255 means 255 or more.
		v := int32(min(*p, 255))
		out.PercentageUsed = &v
	}
	if t := h.TemperatureCelsius; t != nil {
		v := int32(max(min(*t, math.MaxInt32), math.MinInt32))
		out.TemperatureCelsius = &v
	}
	if !h.CheckedAt.IsZero() {
		at := metav1.NewTime(h.CheckedAt.Truncate(time.Second))
		out.CheckedAt = &at
	}
	return out
}

func nonNegative(p *int64) *int64 {
	if p == nil || *p < 0 {
		return nil
	}
	v := *p
	return &v
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
		case cephv1alpha1.DiskMetadataDevice:
			// Neither empty nor rejected: counted among the disks only.
		case cephv1alpha1.DiskOSDPartitions:
			// A split disk counts as a disk holding OSDs once one of its
			// partitions holds one.
			for _, p := range d.Partitions {
				if p.OSDID != nil {
					s.OSDs++
					break
				}
			}
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
// LastScanTime and LastReportTime, and the drive health readings that drift
// on a healthy drive (temperature, power-on hours, time of check: see
// DiskHealth.Findings), which are refreshed with the periodic report
// instead. It compares the JSON forms, so a status read back from the API
// server (where empty lists come back absent) equals the one built locally.
func SameContent(a, b cephv1alpha1.DiskInventoryStatus) bool {
	a.LastScanTime, b.LastScanTime = nil, nil
	a.LastReportTime, b.LastReportTime = nil, nil
	a.Disks, b.Disks = healthFindings(a.Disks), healthFindings(b.Disks)
	// The plan belongs to the operator (another field manager); the agent
	// never writes it, so it is no part of what the agent compares.
	a.Plan, b.Plan = nil, nil
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// healthFindings returns a copy of disks whose health keeps only its
// findings; disks itself is not changed.
func healthFindings(disks []cephv1alpha1.Disk) []cephv1alpha1.Disk {
	out := make([]cephv1alpha1.Disk, len(disks))
	for i, d := range disks {
		d.Health = d.Health.Findings()
		out[i] = d
	}
	if disks == nil {
		return nil
	}
	return out
}
