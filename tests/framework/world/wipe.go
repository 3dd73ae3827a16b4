package world

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// wipeLocked does what agent wipe does on the Job's node: every disk it
// lists whose identity is the one named, that is still rejected for
// leftover content and whose confirmation still matches what the disk
// shows becomes Available with new content (the agent reports it at its
// next scan); any other is refused, untouched. It returns the results
// agent wipe writes as its termination message and its exit code. w.mu is
// held.
func (w *World) wipeLocked(job *batchv1.Job) ([]resources.PrepareResult, int32, error) {
	var targets []resources.WipeTarget
	if err := jsonUnmarshal(job.Annotations[resources.DevicesAnnotation], &targets); err != nil {
		return nil, 0, fmt.Errorf("devices of wipe Job %s: %w", job.Name, err)
	}
	n := w.nodes[job.Annotations[resources.NodeAnnotation]]
	if n == nil {
		n = &node{}
	}
	var results []resources.PrepareResult
	refused := false
	for _, t := range targets {
		res := resources.PrepareResult{Path: t.Path, Outcome: "Refused", Reason: "Unreadable", Message: "not among the node's disks"}
		for i := range n.disks {
			d := &n.disks[i]
			if d.ID != t.ID {
				continue
			}
			conf := discovery.WipeConfirmation(discovery.WipeIdentity{ID: d.ID, WWN: d.WWN, Serial: d.Serial, ContentHash: d.ContentHash,
				Reason: discovery.Reason(d.Verdict.Reason), LabelFSID: d.Verdict.ClusterFSID})
			expected := t.ExpectedOSD
			switch {
			case (t.WWN != "" && t.WWN != d.WWN) || (t.Serial != "" && t.Serial != d.Serial):
				res.Reason, res.Message = "IdentityMismatch", "the disk at the path is not the one named"
			case expected != nil && (d.Verdict.State != cephv1alpha1.DiskOSD || d.Verdict.OSDID == nil || int(*d.Verdict.OSDID) != expected.OSDID ||
				(d.Verdict.ClusterFSID != "" && d.Verdict.ClusterFSID != expected.FSID)):
				res.Reason, res.Message = "LabelMismatch", fmt.Sprintf("the disk is %s, not OSD %d", d.Verdict.State, expected.OSDID)
			case expected != nil:
				w.wipeLocked1(d)
				res = resources.PrepareResult{Path: t.Path, Outcome: "Wiped", Message: d.Name + " wiped"}
			case d.Verdict.State != cephv1alpha1.DiskRejected || !discovery.Wipeable(discovery.Reason(d.Verdict.Reason)):
				res.Reason, res.Message = "NotWipeable", fmt.Sprintf("the disk is %s %s", d.Verdict.State, d.Verdict.Reason)
			case conf == "" || conf != t.Confirmation:
				res.Reason, res.Message = "WipeConfirmationMismatch", fmt.Sprintf("the confirmation given is %q, the disk shows %q", t.Confirmation, conf)
			default:
				w.wipeLocked1(d)
				res = resources.PrepareResult{Path: t.Path, Outcome: "Wiped", Message: d.Name + " wiped"}
			}
		}
		if res.Outcome != "Wiped" {
			refused = true
		}
		results = append(results, res)
	}
	n.scanned = metav1.Now()
	w.jobsRun++
	if refused {
		return results, ExitRefused, nil
	}
	return results, ExitPrepared, nil
}

// Wiped is how often disk id was wiped.
func (w *World) Wiped(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wiped[id]
}

// wipeLocked1 makes disk d blank: Available, with new content. w.mu is
// held.
func (w *World) wipeLocked1(d *cephv1alpha1.Disk) {
	w.wiped[d.ID]++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s wiped %d", d.ID, w.wiped[d.ID])))
	d.ContentHash = hex.EncodeToString(sum[:])
	d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable}
}
