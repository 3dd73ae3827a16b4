package discovery

import (
	"fmt"
	"strings"
)

// WipeableReasons are the verdict reasons of a disk that a user may ask the
// operator to wipe (spec.storage.wipeDevices): leftover content that
// nothing on the node uses. Every reason of active use (Mounted,
// InUseAsSwap, HasHolders, Busy), of hardware (ReadOnly, Removable,
// NotADisk), of doubt (Unreadable, SharedDevice) and every disk of this
// cluster (an OSD, PartiallyPrepared) is never wiped this way.
var WipeableReasons = []Reason{ForeignCephCluster, HasFilesystem, HasPartitionTable, HasPartitions, HasUnknownData}

// Wipeable reports whether a disk rejected for reason may be wiped on
// request.
func Wipeable(reason Reason) bool {
	for _, r := range WipeableReasons {
		if r == reason {
			return true
		}
	}
	return false
}

// WipeIdentity is what a wipe confirmation is computed from: the disk's
// identity, its content and its verdict, as the inventory shows them.
type WipeIdentity struct {
	// ID is the disk's stable id (Device.StableID).
	ID string
	// WWN and Serial are the disk's, when it reports them.
	WWN, Serial string
	// ContentHash is the hash of what discovery read of the disk.
	ContentHash string
	// Reason is the verdict's reason.
	Reason Reason
	// LabelFSID is the cluster FSID of the disk's BlueStore label, if any.
	LabelFSID string
}

// wipeContentChars is how many hex digits of the content hash a
// confirmation carries: enough that a disk whose content changed since the
// user copied the confirmation no longer matches it.
const wipeContentChars = 12

// WipeConfirmation is the string a user must give to wipe the disk in
// exactly the state described: the disk's WWN (else its serial, else its
// stable id), the start of its content hash, and, for a disk carrying
// another cluster's BlueStore label, that cluster's FSID, for example
// "wwn=0x5000c500a1b2c3d4/content=3f2a9c1b7d4e/fsid=9999…". It is "" when
// the disk may not be wiped (its reason is not Wipeable) or when its
// content is not known.
//
// Because it names the disk and its content, a confirmation copied from one
// disk never matches another, and one written for a disk in one state no
// longer matches once the disk changed (wiped, re-used, swapped): a request
// left in the spec cannot wipe the disk a second time.
func WipeConfirmation(w WipeIdentity) string {
	if !Wipeable(w.Reason) || w.ContentHash == "" {
		return ""
	}
	var b strings.Builder
	switch {
	case w.WWN != "":
		b.WriteString("wwn=" + w.WWN)
	case w.Serial != "":
		b.WriteString("serial=" + w.Serial)
	default:
		b.WriteString("id=" + w.ID)
	}
	hash := w.ContentHash
	if len(hash) > wipeContentChars {
		hash = hash[:wipeContentChars]
	}
	b.WriteString("/content=" + hash)
	if w.Reason == ForeignCephCluster {
		fsid := w.LabelFSID
		if fsid == "" {
			fsid = "none"
		}
		b.WriteString("/fsid=" + strings.ToLower(fsid))
	}
	return b.String()
}

// DeviceWipeIdentity is the WipeIdentity of a scanned device under verdict
// v, as the inventory would publish it.
func DeviceWipeIdentity(d Device, v Verdict) WipeIdentity {
	return WipeIdentity{ID: d.StableID(), WWN: d.WWN, Serial: d.Serial, ContentHash: d.ContentHash, Reason: v.Reason, LabelFSID: v.ClusterFSID}
}

// InUse runs the checks of active use on a device, whatever its verdict
// (the verdict chain reports a BlueStore label before any of them): read
// only, mounted (the disk or any partition), active swap, holders
// (device-mapper, md, bcache, LVM, a loop device it backs), or open by a
// process or held exclusively. ok is true when none applies.
func InUse(d Device) (reason Reason, message string, ok bool) {
	for _, c := range []Check{checkWritable, checkNotMounted, checkNoSwap, checkNoHolders, checkNotBusy} {
		if r, msg, ok := c(d, Options{}); !ok {
			return r, msg, false
		}
	}
	return "", "", true
}

// WipeRefusal says why a request to wipe a disk with verdict v cannot be
// followed, or "" when its reason allows it.
func WipeRefusal(v Verdict) string {
	switch {
	case v.State == StateAvailable:
		return "the disk is already blank (Available)"
	case v.State == StateOSD:
		return fmt.Sprintf("the disk holds OSD %d of this cluster, which is never wiped on request", v.OSDID)
	case v.State == StateMetadataDevice:
		return "the disk is a metadata device of this cluster (it holds the DB or WAL partitions of its OSDs), which is never wiped on request"
	case v.State == StateOSDPartitions:
		return "the disk is split into OSD data partitions of this cluster, which is never wiped on request: decommission its OSDs instead"
	case !Wipeable(v.Reason):
		return fmt.Sprintf("the disk is %s, which is never wiped on request: only a disk rejected as %s may be", v.Reason, reasonList(WipeableReasons))
	}
	return ""
}

func reasonList(rs []Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
