package osdplan

import (
	"fmt"
	"sort"
	"strings"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// maxSharedListed bounds how many other copies a SharedDevice message
// names; the rest are counted.
const maxSharedListed = 4

// copyOf is one place a device is seen: a disk of a node's inventory.
type copyOf struct {
	node string
	disk *cephv1alpha1.Disk
}

func (c copyOf) String() string {
	return fmt.Sprintf("%s/%s (%s)", c.node, c.disk.Name, diskID(c.disk))
}

// findShared finds devices seen more than once across all inventories: the
// same WWN on two disks, or the same serial on two disks of the same size.
// That is one LUN reached through two paths without multipathd, or a SAN
// LUN that two nodes see; preparing either copy would write a disk that
// another path, or another host, may be using. It returns, per node and
// disk id, a message naming the other copies. Disks holding an OSD of this
// cluster are indexed (a blank copy of an OSD's LUN is still shared) but
// are planned as OSDs; their duplicates show as DuplicateOSDID.
//
// Empty WWNs and serials never match. A WWN is unique by design, so it
// alone decides; a serial is only unique per vendor and some virtual disks
// repeat one, so it is matched together with the size, which every path to
// one LUN reports alike.
func findShared(nodes []*nodeState) map[string]map[string]string {
	groups := map[string][]copyOf{}
	for _, ns := range nodes {
		for i := range ns.inv.Status.Disks {
			d := &ns.inv.Status.Disks[i]
			c := copyOf{node: ns.name, disk: d}
			if w := normalizeIdentity(d.WWN); w != "" {
				groups["wwn\x00"+w] = append(groups["wwn\x00"+w], c)
			}
			if sn := normalizeIdentity(d.Serial); sn != "" {
				key := fmt.Sprintf("serial\x00%s\x00%d", sn, d.SizeBytes)
				groups[key] = append(groups[key], c)
			}
		}
	}
	keys := make([]string, 0, len(groups))
	for k, g := range groups {
		if len(g) > 1 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := map[string]map[string]string{}
	for _, k := range keys {
		g := groups[k]
		what, value, _ := strings.Cut(k, "\x00")
		if what == "serial" {
			value, _, _ = strings.Cut(value, "\x00")
		}
		for i, c := range g {
			if out[c.node] == nil {
				out[c.node] = map[string]string{}
			}
			id := diskID(c.disk)
			if out[c.node][id] != "" {
				continue
			}
			var others []string
			for j, o := range g {
				if j != i {
					others = append(others, o.String())
				}
			}
			more := ""
			if len(others) > maxSharedListed {
				more = fmt.Sprintf(" and %d more", len(others)-maxSharedListed)
				others = others[:maxSharedListed]
			}
			what := "WWN " + value
			if strings.HasPrefix(k, "serial") {
				what = fmt.Sprintf("serial %s and size %d", value, c.disk.SizeBytes)
			}
			out[c.node][id] = fmt.Sprintf("the same %s is also seen as %s%s: one device reached through several paths or by several nodes is never prepared; "+
				"configure multipath, or present the LUN to one node only", what, strings.Join(others, ", "), more)
		}
	}
	return out
}

// normalizeIdentity makes WWNs and serials comparable: case and
// surrounding blanks differ between tools and transports.
func normalizeIdentity(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}
