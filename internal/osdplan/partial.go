package osdplan

import (
	"fmt"
	"slices"
	"strings"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// UnclaimedOSDs returns the OSDs that Ceph's OSD map holds, that never
// started, and that no disk and no OSD Deployment of the cluster accounts
// for: ids allocated by a prepare (`ceph osd new` comes before the disk is
// written) that was interrupted before it wrote its label.
//
// It answers nothing while that cannot be told apart from a prepare in
// progress: while any prepare Job of the cluster exists (a finished one is
// kept until the agent shows its disk), while a selected node has not
// published an inventory, and while the reporter's view is not of this
// cluster. An OSD whose id or uuid a disk carries (complete, or a
// PartiallyPrepared label) is accounted for by that disk's own verdict.
func UnclaimedOSDs(in Input) []cephv1alpha1.CephOSDRef {
	c := in.Cluster
	st := c.Status.Ceph
	if st == nil || len(st.NeverStartedOSDs) == 0 || c.Status.FSID == "" || !strings.EqualFold(st.FSID, c.Status.FSID) {
		return nil
	}
	if len(in.Jobs) > 0 {
		return nil
	}
	published := map[string]bool{}
	for i := range in.Inventories {
		if in.Inventories[i].Status.LastScanTime != nil {
			published[in.Inventories[i].Name] = true
		}
	}
	for _, name := range nodeselect.Select(&c.Spec, in.Nodes).Selected {
		if !published[name] {
			return nil
		}
	}
	ids := map[int32]bool{}
	uuids := map[string]bool{}
	for i := range in.OSDs {
		ids[in.OSDs[i].ID] = true
	}
	for i := range in.Inventories {
		for _, d := range in.Inventories[i].Status.Disks {
			v := d.Verdict
			if v.ClusterFSID != "" && !strings.EqualFold(v.ClusterFSID, c.Status.FSID) {
				continue
			}
			if v.OSDID != nil {
				ids[*v.OSDID] = true
			}
			if v.OSDUUID != "" {
				uuids[strings.ToLower(v.OSDUUID)] = true
			}
		}
	}
	var out []cephv1alpha1.CephOSDRef
	for _, o := range st.NeverStartedOSDs {
		if ids[o.ID] || (o.UUID != "" && uuids[strings.ToLower(o.UUID)]) {
			continue
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b cephv1alpha1.CephOSDRef) int { return int(a.ID) - int(b.ID) })
	return out
}

// UnclaimedOSDsMessage says what the unclaimed OSDs are and how to recover,
// within MaxMessageLength.
func UnclaimedOSDsMessage(osds []cephv1alpha1.CephOSDRef) string {
	names := make([]string, 0, len(osds))
	for _, o := range osds {
		names = append(names, fmt.Sprintf("osd.%d (uuid %s)", o.ID, o.UUID))
	}
	first := osds[0].ID
	what := fmt.Sprintf("%d OSD ids are allocated in Ceph but never started, and no disk that the agents see carries them", len(osds))
	if len(osds) == 1 {
		what = "1 OSD id is allocated in Ceph but never started, and no disk that the agents see carries it"
	}
	msg := fmt.Sprintf("%s: "+
		"a prepare was interrupted after it registered the OSD and before it wrote the disk. "+
		"Nothing is done about them automatically. To recover: check that no disk holds the uuid "+
		"(`ceph-volume raw list` on the nodes; every DiskInventory is already checked), then free each id, "+
		"e.g. `ceph osd purge %d --yes-i-really-mean-it`; the disk it was meant for, if still blank, is prepared again after the usual backoff. Ids: %s",
		what, first, strings.Join(names, ", "))
	return Truncate(msg, MaxMessageLength)
}
