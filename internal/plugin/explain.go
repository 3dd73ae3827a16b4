package plugin

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// FindDisk finds the disk a user named: NODE/DISK, or a kernel name, stable
// id, device path or /dev/disk/by-* link, optionally limited to one node.
// It fails with the close matches when nothing matches, and with the
// candidates when the name is on several nodes.
func FindDisk(rows []DiskRow, query, node string) (DiskRow, error) {
	name := query
	if !strings.HasPrefix(query, "/") {
		if n, d, ok := strings.Cut(query, "/"); ok {
			if node != "" && node != n {
				return DiskRow{}, fmt.Errorf("disk %q names node %s, but --node is %s", query, n, node)
			}
			node, name = n, d
		}
	}
	var found []DiskRow
	for _, r := range rows {
		if (r.Disk == nil && r.Plan == nil) || (node != "" && r.Node != node) {
			continue
		}
		if matches(r, name) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		where := "this cluster"
		if node != "" {
			where = "node " + node
		}
		msg := fmt.Sprintf("no disk %q on %s", name, where)
		if near := closeMatches(rows, name); len(near) > 0 {
			msg += "; did you mean " + strings.Join(near, ", ") + "?"
		} else {
			msg += " ('kubectl ceph disks' lists them)"
		}
		return DiskRow{}, fmt.Errorf("%s", msg)
	}
	var names []string
	for _, r := range found {
		names = append(names, r.Node+"/"+r.Name())
	}
	return DiskRow{}, fmt.Errorf("%q matches %d disks: %s; name one as NODE/DISK or add --node",
		name, len(found), strings.Join(names, ", "))
}

func matches(r DiskRow, name string) bool {
	if r.Name() == name || r.ID() == name {
		return true
	}
	if d := r.Disk; d != nil {
		if d.Path == name || d.Path == "/dev/"+name {
			return true
		}
		for _, l := range d.Links {
			if l == name {
				return true
			}
		}
	}
	return false
}

// closeMatches names at most five disks whose name or id contains the query
// or is within two edits of it, as NODE/DISK.
func closeMatches(rows []DiskRow, query string) []string {
	var out []string
	for _, r := range rows {
		if r.Disk == nil && r.Plan == nil {
			continue
		}
		name, id := r.Name(), r.ID()
		q := strings.ToLower(query)
		if strings.Contains(strings.ToLower(name), q) || strings.Contains(strings.ToLower(id), q) ||
			strings.Contains(q, strings.ToLower(name)) || editDistance(q, strings.ToLower(name)) <= 2 {
			out = append(out, r.Node+"/"+name)
		}
		if len(out) == 5 {
			break
		}
	}
	return out
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// DiskEvents picks the events about the disk: those of its node's
// DiskInventory that mention its name, id or path, and those of the
// CephCluster that mention its id or path, or its name together with its
// node. They are sorted oldest first.
func DiskEvents(events []corev1.Event, cluster *cephv1alpha1.CephCluster, r DiskRow) []corev1.Event {
	nameRE := wordRE(r.Name())
	nodeRE := wordRE(r.Node)
	var keys []string
	if id := r.ID(); id != "" {
		keys = append(keys, id)
	}
	if r.Disk != nil && r.Disk.Path != "" {
		keys = append(keys, r.Disk.Path)
	}
	mentionsKey := func(msg string) bool {
		for _, k := range keys {
			if strings.Contains(msg, k) {
				return true
			}
		}
		return false
	}
	var out []corev1.Event
	for _, e := range events {
		o := e.InvolvedObject
		switch {
		case o.Kind == "DiskInventory" && o.Name == r.Node:
			if mentionsKey(e.Message) || nameRE.MatchString(e.Message) {
				out = append(out, e)
			}
		case o.Kind == "CephCluster" && o.Name == cluster.Name:
			if mentionsKey(e.Message) || (nameRE.MatchString(e.Message) && nodeRE.MatchString(e.Message)) {
				out = append(out, e)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return eventTime(out[i]).Before(eventTime(out[j])) })
	return out
}

// wordRE matches s as a whole word: sdb, but not in sdb1.
func wordRE(s string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_-])` + regexp.QuoteMeta(s) + `($|[^A-Za-z0-9_-])`)
}

// eventTime is when an event last happened, whichever API wrote it.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.FirstTimestamp.Time
}

// eventCount is how often an event happened.
func eventCount(e corev1.Event) int32 {
	switch {
	case e.Series != nil && e.Series.Count > 0:
		return e.Series.Count
	case e.Count > 0:
		return e.Count
	}
	return 1
}

// RenderExplain writes `kubectl ceph explain`: everything known about one
// disk. eventsErr, when set, says why events could not be read; the rest is
// still shown.
func RenderExplain(w io.Writer, r DiskRow, events []corev1.Event, eventsErr error, now time.Time) error {
	fmt.Fprintf(w, "Disk %s on node %s\n", r.Name(), r.Node)
	field := func(label, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-16s %s\n", label+":", value)
		}
	}
	field("ID", r.ID())
	if d := r.Disk; d != nil {
		field("Path", d.Path)
		field("Size", fmt.Sprintf("%s (%d bytes)", Size(d.SizeBytes), d.SizeBytes))
		kind := d.Type
		if d.Rotational {
			kind += ", rotational"
		}
		field("Type", kind)
		field("Model", d.Model)
		field("Serial", d.Serial)
		field("WWN", d.WWN)
		for i, l := range d.Links {
			label := ""
			if i == 0 {
				label = "Links:"
			}
			fmt.Fprintf(w, "  %-16s %s\n", label, l)
		}

		fmt.Fprintln(w, "\nVerdict (the node's agent):")
		v := d.Verdict
		state := string(v.State)
		if v.Reason != "" {
			state += " (" + v.Reason + ")"
		}
		field("State", state)
		field("Message", v.Message)
		if v.OSDID != nil {
			field("OSD", fmt.Sprintf("osd.%d", *v.OSDID))
		}
		field("Cluster FSID", v.ClusterFSID)
		field("OSD UUID", v.OSDUUID)
		for i, part := range d.Partitions {
			label := ""
			if i == 0 {
				label = "Partitions:"
			}
			use := "unused"
			if part.OSDUUID != "" {
				use = "OSD uuid " + part.OSDUUID
			}
			fmt.Fprintf(w, "  %-16s %d %s %s %s (%s), %s\n", label, part.Number, part.Name, part.Role, part.Label, Size(part.SizeBytes), use)
		}
	} else {
		fmt.Fprintln(w, "\nVerdict (the node's agent):")
		fmt.Fprintln(w, "  the agent no longer reports this disk; only the operator's plan names it")
	}

	fmt.Fprintln(w, "\nPlan (the operator):")
	if p := r.Plan; p != nil {
		action := string(p.Action)
		if p.Reason != "" {
			action += " (" + p.Reason + ")"
		}
		field("Action", action)
		field("Message", p.Message)
		if p.OSDID != nil {
			field("OSD", fmt.Sprintf("osd.%d", *p.OSDID))
		}
		field("Device class", p.DeviceClass)
		for _, part := range []struct {
			label string
			ref   *cephv1alpha1.PartitionRef
		}{{"DB", p.DB}, {"WAL", p.WAL}} {
			if part.ref == nil {
				continue
			}
			where := fmt.Sprintf("partition %d of %s, %s", part.ref.Number, part.ref.Device, Size(part.ref.SizeBytes))
			if !part.ref.Exists {
				where += ", to be made"
			}
			field(part.label, where)
		}
		if p.Attempts > 0 {
			attempts := fmt.Sprint(p.Attempts)
			if p.LastFailureTime != nil {
				attempts += fmt.Sprintf(", the last failed %s ago", age(now, p.LastFailureTime.Time))
			}
			field("Failed attempts", attempts)
		}
	} else {
		fmt.Fprintln(w, "  none yet: the operator has not planned this disk")
	}

	fmt.Fprintln(w, "\nEvents:")
	switch {
	case eventsErr != nil:
		fmt.Fprintf(w, "  not shown: %v\n", eventsErr)
		return nil
	case len(events) == 0:
		fmt.Fprintln(w, "  none (events expire after an hour by default)")
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  LAST SEEN\tTYPE\tREASON\tOBJECT\tCOUNT\tMESSAGE")
	for _, e := range events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s/%s\t%d\t%s\n", age(now, eventTime(e)), e.Type, e.Reason,
			e.InvolvedObject.Kind, e.InvolvedObject.Name, eventCount(e), strings.ReplaceAll(e.Message, "\n", " "))
	}
	return tw.Flush()
}
