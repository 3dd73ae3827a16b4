package ceph

import (
	"encoding/json"
	"fmt"
	"slices"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// rawOSDDump is the part of `ceph osd dump --format json` the reporter
// reads: per OSD its id, uuid, the epoch it last came up in and its state
// flags. Unknown fields are ignored.
type rawOSDDump struct {
	FSID string `json:"fsid"`
	OSDs []struct {
		OSD    *int32   `json:"osd"`
		UUID   string   `json:"uuid"`
		Up     int      `json:"up"`
		UpFrom int64    `json:"up_from"`
		State  []string `json:"state"`
	} `json:"osds"`
}

// NeverStartedOSDs reads `ceph osd dump --format json` and returns the OSDs
// that exist in the OSD map but never started, sorted by id, at most
// cephv1alpha1.MaxCephNeverStartedOSDs of them, and how many more there are.
//
// `ceph osd new` (what ceph-volume calls before it writes the disk) creates
// an OSD with the "new" state flag; the flag is cleared when the OSD boots
// for the first time, and up_from stays 0 until then. An OSD kept as
// "destroyed" (its id reserved for a replacement disk) is not listed: it is
// there on purpose.
func NeverStartedOSDs(out []byte) ([]cephv1alpha1.CephOSDRef, int32, error) {
	var raw rawOSDDump
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, 0, fmt.Errorf("reading `ceph osd dump` output: %w", err)
	}
	if raw.FSID == "" {
		return nil, 0, fmt.Errorf("reading `ceph osd dump` output: no fsid: not an OSD map")
	}
	var refs []cephv1alpha1.CephOSDRef
	for _, o := range raw.OSDs {
		if o.OSD == nil || *o.OSD < 0 {
			return nil, 0, fmt.Errorf("reading `ceph osd dump` output: an OSD without a valid id")
		}
		isNew := slices.Contains(o.State, "new")
		if slices.Contains(o.State, "destroyed") || o.Up != 0 {
			continue
		}
		if !isNew && o.UpFrom > 0 {
			continue
		}
		refs = append(refs, cephv1alpha1.CephOSDRef{ID: *o.OSD, UUID: truncateUTF8(o.UUID, 64)})
	}
	slices.SortFunc(refs, func(a, b cephv1alpha1.CephOSDRef) int { return int(a.ID) - int(b.ID) })
	refs = slices.CompactFunc(refs, func(a, b cephv1alpha1.CephOSDRef) bool { return a.ID == b.ID })
	var omitted int32
	if len(refs) > cephv1alpha1.MaxCephNeverStartedOSDs {
		omitted = int32(len(refs) - cephv1alpha1.MaxCephNeverStartedOSDs)
		refs = refs[:cephv1alpha1.MaxCephNeverStartedOSDs]
	}
	return refs, omitted, nil
}
