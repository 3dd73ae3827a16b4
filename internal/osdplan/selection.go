package osdplan

import (
	"fmt"
	"regexp"
	"strings"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// byIDPrefix is where udev keeps the links that name a disk by what it is
// (WWN, serial) rather than by where it is plugged in.
const byIDPrefix = "/dev/disk/by-id/"

// diskSelection is the storage selection's decision on one disk, before
// discovery's verdict is taken into account.
type diskSelection struct {
	// selected is true when a rule of spec.storage picks the disk.
	selected bool
	// reason and message say why the disk is not selected.
	reason  string
	message string
	// deviceClass is the CRUSH device class the disk's OSD gets; it is
	// resolved whether or not the disk is selected, because an existing OSD
	// keeps its Deployment either way.
	deviceClass string
	// layout is where the disk's OSD keeps its DB and WAL.
	layout layoutRule
}

// layoutRule is the metadata-device setting that applies to one disk: the
// disk's entry, else its node's, else the cluster's.
type layoutRule struct {
	// metadata names the metadata device on the node (kernel name, link
	// or stable id); empty keeps the DB on the data disk.
	metadata string
	// field is the spec field metadata comes from, for messages.
	field string
	// dbSize and walSize are the configured sizes; nil when unset.
	dbSize  *int64
	walSize *int64
	// osds is osdsPerDevice, nil when unset, and osdsField the spec field
	// it comes from.
	osds      *int32
	osdsField string
}

// override applies the settings o sets, from the spec field at.
func (l layoutRule) override(o *cephv1alpha1.OSDOverrides, at string) layoutRule {
	if o.MetadataDevice != nil {
		l.metadata, l.field = *o.MetadataDevice, at+".metadataDevice"
	}
	if o.DatabaseSizeBytes != nil {
		l.dbSize = o.DatabaseSizeBytes
	}
	if o.WALSizeBytes != nil {
		l.walSize = o.WALSizeBytes
	}
	if o.OSDsPerDevice != nil {
		l.osds, l.osdsField = o.OSDsPerDevice, at+".osdsPerDevice"
	}
	return l
}

// filter is one deviceFilter or devicePathFilter in effect, with the spec
// field it comes from so messages can say whether a node override or the
// cluster-wide value left a disk out.
type filter struct {
	pattern string
	field   string
	re      *regexp.Regexp
	// invalid is the message for a pattern that does not compile; empty
	// when re is usable.
	invalid string
}

// selector resolves the device-selection rules of spec.storage per node. It
// compiles every pattern once, however many nodes and disks share it.
type selector struct {
	storage  *cephv1alpha1.StorageSpec
	entries  map[string]*cephv1alpha1.NodeStorageSpec
	compiled map[string]*filter
	// problems are the messages of invalid filters, in spec order and
	// without duplicates.
	problems []string
}

// newSelector prepares the selection rules of storage. Every filter written
// in the spec is compiled up front, so an invalid one is reported even on a
// node that has no inventory yet: it is a mistake in the spec either way.
func newSelector(storage *cephv1alpha1.StorageSpec) *selector {
	s := &selector{
		storage:  storage,
		entries:  make(map[string]*cephv1alpha1.NodeStorageSpec, len(storage.Nodes)),
		compiled: map[string]*filter{},
	}
	for i := range storage.Nodes {
		e := &storage.Nodes[i]
		if _, dup := s.entries[e.Name]; !dup {
			s.entries[e.Name] = e
		}
	}
	seen := map[string]bool{}
	report := func(f *filter) {
		if f != nil && f.invalid != "" && !seen[f.invalid] {
			seen[f.invalid] = true
			s.problems = append(s.problems, f.invalid)
		}
	}
	report(s.filter(storage.DeviceFilter, "spec.storage.deviceFilter"))
	report(s.filter(storage.DevicePathFilter, "spec.storage.devicePathFilter"))
	for i := range storage.Nodes {
		e := &storage.Nodes[i]
		if e.DeviceFilter != nil {
			report(s.filter(*e.DeviceFilter, nodeField(e.Name, "deviceFilter")))
		}
		if e.DevicePathFilter != nil {
			report(s.filter(*e.DevicePathFilter, nodeField(e.Name, "devicePathFilter")))
		}
	}
	return s
}

// filter returns the compiled filter for pattern as written in field, or
// nil when the pattern is empty (no filter at that level).
func (s *selector) filter(pattern, field string) *filter {
	if pattern == "" {
		return nil
	}
	key := field + "\x00" + pattern
	if f, ok := s.compiled[key]; ok {
		return f
	}
	f := &filter{pattern: pattern, field: field}
	re, err := regexp.Compile(pattern)
	if err != nil {
		f.invalid = fmt.Sprintf("%s %q is not a valid regular expression: %v", field, pattern, err)
	} else {
		f.re = re
	}
	s.compiled[key] = f
	return f
}

// nodeField names a field of a node's entry in spec.storage.nodes.
func nodeField(node, field string) string {
	return fmt.Sprintf("spec.storage.nodes[%s].%s", node, field)
}

// nodeRules is the device selection that applies on one node, with every
// override already resolved against the cluster-wide value.
type nodeRules struct {
	node  string
	entry *cephv1alpha1.NodeStorageSpec
	// devices is the node's explicit list; when non-empty it is the only
	// rule that applies.
	devices      []cephv1alpha1.DeviceSpec
	deviceFilter *filter
	pathFilter   *filter
	useAll       bool
	// useAllFromNode is true when the node entry sets useAllDevices.
	useAllFromNode bool
	// class is the node's device class, or the cluster's when the node
	// does not set one.
	class string
	// layout is the node's metadata-device setting.
	layout layoutRule
}

// rules resolves the selection rules of node: each setting comes from the
// node's entry in spec.storage.nodes when the entry sets it, otherwise from
// the cluster-wide value. An override set to the empty string switches the
// cluster-wide filter off on that node.
func (s *selector) rules(node string) *nodeRules {
	r := &nodeRules{
		node:   node,
		useAll: s.storage.UseAllDevices,
		class:  s.storage.Config.DeviceClass,
		layout: layoutRule{
			metadata: s.storage.Config.MetadataDevice,
			field:    "spec.storage.config.metadataDevice",
			dbSize:   s.storage.Config.DatabaseSizeBytes,
			walSize:  s.storage.Config.WALSizeBytes,
			osds:     s.storage.Config.OSDsPerDevice,
		},
	}
	if r.layout.osds != nil {
		r.layout.osdsField = "spec.storage.config.osdsPerDevice"
	}
	df := s.filter(s.storage.DeviceFilter, "spec.storage.deviceFilter")
	pf := s.filter(s.storage.DevicePathFilter, "spec.storage.devicePathFilter")
	if e := s.entries[node]; e != nil {
		r.entry = e
		r.devices = e.Devices
		if e.DeviceFilter != nil {
			df = s.filter(*e.DeviceFilter, nodeField(node, "deviceFilter"))
		}
		if e.DevicePathFilter != nil {
			pf = s.filter(*e.DevicePathFilter, nodeField(node, "devicePathFilter"))
		}
		if e.UseAllDevices != nil {
			r.useAll, r.useAllFromNode = *e.UseAllDevices, true
		}
		if e.Config.DeviceClass != "" {
			r.class = e.Config.DeviceClass
		}
		r.layout = r.layout.override(&e.Config, nodeField(node, "config"))
	}
	r.deviceFilter, r.pathFilter = df, pf
	return r
}

// selectDisk applies the node's rules to one disk; the first rule that
// applies decides:
//
//  1. the node's devices list: the disk is selected when an entry names its
//     kernel name, one of its /dev/disk/by-* links or its stable id;
//     otherwise it is NotListed;
//  2. deviceFilter, matched against the kernel name; no match is
//     FilteredOut;
//  3. devicePathFilter, matched against every link, any match selects; no
//     match is FilteredOut;
//  4. useAllDevices; false is NotListed.
//
// A filter that does not compile selects nothing: the disks it governs are
// InvalidFilter. The device class is the device entry's, else the node's,
// else the cluster's.
func (r *nodeRules) selectDisk(d *cephv1alpha1.Disk) diskSelection {
	res := diskSelection{deviceClass: r.class, layout: r.layout}
	switch {
	case len(r.devices) > 0:
		for i := range r.devices {
			ds := &r.devices[i]
			if namesDisk(ds.Name, d) {
				res.selected = true
				if ds.Config.DeviceClass != "" {
					res.deviceClass = ds.Config.DeviceClass
				}
				res.layout = res.layout.override(&ds.Config, fmt.Sprintf("%s[%s].config", nodeField(r.node, "devices"), ds.Name))
				return res
			}
		}
		res.reason = ReasonNotListed
		res.message = fmt.Sprintf("not in %s", nodeField(r.node, "devices"))
	case r.deviceFilter != nil:
		f := r.deviceFilter
		switch {
		case f.invalid != "":
			res.reason, res.message = ReasonInvalidFilter, f.invalid
		case f.re.MatchString(d.Name):
			res.selected = true
		default:
			res.reason = ReasonFilteredOut
			res.message = fmt.Sprintf("kernel name %q does not match %s %q", d.Name, f.field, f.pattern)
		}
	case r.pathFilter != nil:
		f := r.pathFilter
		switch {
		case f.invalid != "":
			res.reason, res.message = ReasonInvalidFilter, f.invalid
		case anyMatch(f.re, d.Links):
			res.selected = true
		case len(d.Links) == 0:
			res.reason = ReasonFilteredOut
			res.message = fmt.Sprintf("the disk has no /dev/disk/by-* link for %s %q to match", f.field, f.pattern)
		default:
			res.reason = ReasonFilteredOut
			res.message = fmt.Sprintf("no /dev/disk/by-* link of the disk matches %s %q", f.field, f.pattern)
		}
	case r.useAll:
		res.selected = true
	default:
		res.reason = ReasonNotListed
		if r.useAllFromNode {
			res.message = fmt.Sprintf("%s is false and no filter or devices list selects it", nodeField(r.node, "useAllDevices"))
		} else {
			res.message = "nothing in spec.storage selects it: set useAllDevices, a filter or devices"
		}
	}
	return res
}

// namesDisk reports whether a devices entry refers to disk d: by kernel
// name, by one of its links, or by its stable id.
func namesDisk(name string, d *cephv1alpha1.Disk) bool {
	if name == d.Name || (d.ID != "" && name == d.ID) {
		return true
	}
	for _, l := range d.Links {
		if name == l {
			return true
		}
	}
	return false
}

// anyMatch reports whether re matches any of links.
func anyMatch(re *regexp.Regexp, links []string) bool {
	for _, l := range links {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// deviceOf is the Device a Job or Deployment works on for disk d. The path
// is the first /dev/disk/by-id link, preferring a WWN one, because kernel
// names can change between the plan and the moment a pod opens the disk;
// only a disk without by-id links is opened by its device node.
func deviceOf(d *cephv1alpha1.Disk, class string) Device {
	return Device{Name: d.Name, ID: diskID(d), Path: devicePath(d), DeviceClass: class, WWN: d.WWN, Serial: d.Serial, SizeBytes: d.SizeBytes}
}

// devicePath picks the stable path to open disk d: a WWN by-id link, else
// another by-id link, else its stable id when that is a /dev/disk link,
// else a by-path link; the kernel name only for a disk with none of them
// (agent prepare checks the disk's identity before it writes either way).
func devicePath(d *cephv1alpha1.Disk) string {
	first := ""
	for _, l := range d.Links {
		rest, ok := strings.CutPrefix(l, byIDPrefix)
		if !ok {
			continue
		}
		if strings.HasPrefix(rest, "wwn-") {
			return l
		}
		if first == "" {
			first = l
		}
	}
	switch {
	case first != "":
		return first
	case strings.HasPrefix(d.ID, "/dev/disk/"):
		return d.ID
	}
	for _, l := range d.Links {
		if strings.HasPrefix(l, "/dev/disk/by-path/") {
			return l
		}
	}
	switch {
	case d.Path != "":
		return d.Path
	default:
		return "/dev/" + d.Name
	}
}

// diskID is the identity Jobs and earlier plans refer to disk d by. The
// agent always reports one; the device path stands in if it did not, so
// two such disks are still told apart.
func diskID(d *cephv1alpha1.Disk) string {
	if d.ID != "" {
		return d.ID
	}
	if d.Path != "" {
		return d.Path
	}
	return "/dev/" + d.Name
}
