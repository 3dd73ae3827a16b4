package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultMountinfoPath is the mount table the scanner reads, relative to the
// root. A pod in its own mount namespace should point this at
// "/proc/1/mountinfo" (with hostPID) to see the host's mounts.
const DefaultMountinfoPath = "/proc/self/mountinfo"

// Scanner inspects the block devices of one node. It holds configuration
// only, so one value may be reused and even used concurrently.
type Scanner struct {
	// Root is prepended to every path read: "/" on a real host, a fixture
	// directory in tests. Empty means "/".
	Root string
	// Busy checks for exclusive holders; nil means ExclusiveOpenChecker.
	// It is called with the device node path below Root.
	Busy BusyChecker
	// MountinfoPath overrides DefaultMountinfoPath (relative to Root).
	MountinfoPath string
	// Blkid is the second, independent content probe; nil means
	// ExecBlkid{} (the blkid binary). It is given each device node as
	// opened below Root, so on fixture trees it probes the fixture's file.
	Blkid BlkidProber
}

func (s Scanner) root() string {
	if s.Root == "" {
		return "/"
	}
	return s.Root
}

func (s Scanner) path(elem ...string) string {
	return filepath.Join(append([]string{s.root()}, elem...)...)
}

// Scan returns every whole block device of the node (not partitions) sorted
// by kernel name, with partition facts (mounts, swap, holders, LVM/md
// membership, processes holding them open, loop devices they back) folded
// into their disk, and devices that are the same medium marked on each
// other. Problems with one device are recorded on that device; Scan only
// fails when a node-wide source (sysfs block list, mount table, swap list)
// cannot be read, because without those no device could safely be judged.
// When no process's open files can be read (/proc/*/fd), that is recorded
// on every device, which makes them all Unreadable.
func (s Scanner) Scan() ([]Device, error) {
	blockDir := s.path("sys", "block")
	entries, err := os.ReadDir(blockDir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", blockDir, err)
	}
	mi := s.MountinfoPath
	if mi == "" {
		mi = DefaultMountinfoPath
	}
	miPath := s.path(mi)
	miData, err := os.ReadFile(miPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", miPath, err)
	}
	mounts, err := ParseMountinfo(miData)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", miPath, err)
	}
	swapsPath := s.path("proc", "swaps")
	swapsData, err := os.ReadFile(swapsPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", swapsPath, err)
	}
	swaps := ParseSwaps(swapsData)
	links := s.diskLinks()

	var devs []Device
	var devParts [][]partInfo
	// owner maps every kernel name, "major:minor", "mapper/<dm name>" and
	// /dev/disk link of a disk or partition to that device and its disk.
	owner := map[string]devRef{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		d, parts, dmName, skip := s.readDevice(name, links)
		if skip {
			continue
		}
		i := len(devs)
		devs = append(devs, d)
		devParts = append(devParts, parts)
		owner[name] = devRef{i, name}
		owner[fmt.Sprintf("%d:%d", d.Major, d.Minor)] = devRef{i, name}
		if dmName != "" {
			owner["mapper/"+dmName] = devRef{i, name}
		}
		for _, p := range parts {
			owner[p.name] = devRef{i, p.name}
			if p.devNum != "" {
				owner[p.devNum] = devRef{i, p.name}
			}
		}
	}
	for l, k := range links.byLink {
		if r, ok := owner[k]; ok {
			owner[l] = r
		}
	}

	for _, m := range mounts {
		r, ok := owner[fmt.Sprintf("%d:%d", m.Major, m.Minor)]
		if !ok && strings.HasPrefix(m.Source, "/dev/") {
			// Filesystems such as btrfs report an anonymous device
			// number, so fall back to the mount source.
			r, ok = lookupDevPath(owner, m.Source)
		}
		if ok {
			devs[r.disk].Mounts = append(devs[r.disk].Mounts, Mount{Source: r.name, Target: m.MountPoint})
		}
	}
	for _, sw := range swaps {
		if sw.Type == "file" || !strings.HasPrefix(sw.Filename, "/dev/") {
			continue
		}
		if r, ok := lookupDevPath(owner, sw.Filename); ok {
			devs[r.disk].SwapOn = append(devs[r.disk].SwapOn, r.name)
		}
	}
	for i := range devs {
		d := &devs[i]
		seen := map[string]bool{}
		for _, m := range d.Mounts {
			if !seen[m.Target] {
				seen[m.Target] = true
				d.Mountpoints = append(d.Mountpoints, m.Target)
			}
		}
		sort.Strings(d.Mountpoints)
		sort.Strings(d.SwapOn)
		d.Swap = len(d.SwapOn) > 0
	}
	s.markUsers(devs, devParts)
	sort.Slice(devs, func(a, b int) bool { return devs[a].KernelName < devs[b].KernelName })
	return devs, nil
}

// markUsers fills OpenBy, BacksLoops and SharedWith, which need every
// device of the node (and its processes) at once.
func (s Scanner) markUsers(devs []Device, devParts [][]partInfo) {
	keys := make([]map[string]string, len(devs))
	wanted := map[string]bool{}
	for i := range devs {
		keys[i] = s.deviceKeys(devs[i], devParts[i])
		for k := range keys[i] {
			wanted[k] = true
		}
	}
	byKey, err := s.procOpeners(wanted)
	for i := range devs {
		if err != nil {
			devs[i].ScanErrors = append(devs[i].ScanErrors, err.Error())
			continue
		}
		devs[i].OpenBy = openersOf(keys[i], byKey)
	}
	ident := make([][]string, len(devs))
	for i := range devs {
		var loopKeys []string
		if devs[i].Type == TypeLoop && devs[i].SizeBytes > 0 {
			loopKeys = s.loopBackingKeys(devs[i])
			for j := range devs {
				if j == i {
					continue
				}
				for _, k := range loopKeys {
					if _, ok := keys[j][k]; ok && !contains(devs[j].BacksLoops, devs[i].KernelName) {
						devs[j].BacksLoops = append(devs[j].BacksLoops, devs[i].KernelName)
					}
				}
			}
		}
		ident[i] = identityKeys(devs[i], loopKeys)
	}
	for i := range devs {
		sort.Strings(devs[i].BacksLoops)
	}
	markShared(devs, ident)
}

// devRef names a disk (by index) and the kernel name of the disk itself or
// of one of its partitions.
type devRef struct {
	disk int
	name string
}

// lookupDevPath resolves a /dev path (kernel name, /dev/mapper name or
// /dev/disk link) to the device it names.
func lookupDevPath(owner map[string]devRef, p string) (devRef, bool) {
	if r, ok := owner[p]; ok {
		return r, true
	}
	r, ok := owner[strings.TrimPrefix(p, "/dev/")]
	return r, ok
}

// partInfo is what readDevice reports about a partition for mount and swap
// matching.
type partInfo struct {
	name   string
	devNum string
}

// linkIndex maps /dev/disk/by-* symlinks to kernel names and back.
type linkIndex struct {
	byLink   map[string]string
	byKernel map[string][]string
}

// diskLinks resolves every symlink in <root>/dev/disk/by-*/. It is the
// fallback when there is no udev database, and a cross-check when there is.
func (s Scanner) diskLinks() linkIndex {
	idx := linkIndex{byLink: map[string]string{}, byKernel: map[string][]string{}}
	kinds, err := os.ReadDir(s.path("dev", "disk"))
	if err != nil {
		return idx
	}
	for _, k := range kinds {
		if !k.IsDir() || !strings.HasPrefix(k.Name(), "by-") {
			continue
		}
		ents, err := os.ReadDir(s.path("dev", "disk", k.Name()))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			target, err := os.Readlink(s.path("dev", "disk", k.Name(), e.Name()))
			if err != nil {
				continue
			}
			kernel := path.Base(target)
			l := "/dev/disk/" + k.Name() + "/" + e.Name()
			idx.byLink[l] = kernel
			idx.byKernel[kernel] = append(idx.byKernel[kernel], l)
		}
	}
	return idx
}

// attrReader reads sysfs attributes below one directory, recording
// unexpected errors on the device instead of failing.
type attrReader struct {
	dir  string
	errs *[]string
}

// get returns the trimmed content of an optional attribute; a missing file
// is not an error because which attributes exist depends on the driver.
func (a attrReader) get(rel string) string {
	p := filepath.Join(a.dir, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*a.errs = append(*a.errs, fmt.Errorf("reading %s: %w", p, err).Error())
		}
		return ""
	}
	return strings.TrimSpace(string(b))
}

// required is like get but records a missing file as an error.
func (a attrReader) required(rel string) string {
	p := filepath.Join(a.dir, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		*a.errs = append(*a.errs, fmt.Errorf("reading %s: %w", p, err).Error())
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (a attrReader) flag(rel string) bool { return a.get(rel) == "1" }

func (a attrReader) int(rel string) int {
	v := a.get(rel)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		*a.errs = append(*a.errs, fmt.Sprintf("parsing %s: %q is not a number", filepath.Join(a.dir, rel), v))
	}
	return n
}

// list returns the sorted entry names of a sysfs directory such as holders/.
func (a attrReader) list(rel string) []string {
	p := filepath.Join(a.dir, rel)
	ents, err := os.ReadDir(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*a.errs = append(*a.errs, fmt.Errorf("reading %s: %w", p, err).Error())
		}
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// readUdev returns the udev record for a device number, and whether it
// exists.
func (s Scanner) readUdev(devNum string, errs *[]string) (UdevData, bool) {
	if devNum == "" {
		return UdevData{}, false
	}
	p := s.path("run", "udev", "data", "b"+devNum)
	b, err := os.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*errs = append(*errs, fmt.Errorf("reading %s: %w", p, err).Error())
		}
		return UdevData{}, false
	}
	return ParseUdevData(b), true
}

// classify derives the device type from sysfs facts, in the order that
// disambiguates best: device-mapper and md first (they have their own
// sysfs directories), then well-known majors and name prefixes.
func classify(name string, major int, dmUUID string, isDM, isMD bool) string {
	switch {
	case isDM:
		switch {
		case strings.HasPrefix(dmUUID, "LVM-"):
			return TypeLVM
		case strings.HasPrefix(dmUUID, "CRYPT-"):
			return TypeCrypt
		case strings.HasPrefix(dmUUID, "mpath-"):
			return TypeMpath
		case strings.HasPrefix(dmUUID, "part"):
			return TypePart
		}
		return TypeDM
	case isMD || major == 9 || strings.HasPrefix(name, "md"):
		return TypeMD
	case major == 7 || strings.HasPrefix(name, "loop"):
		return TypeLoop
	case major == 11 || strings.HasPrefix(name, "sr"):
		return TypeROM
	case strings.HasPrefix(name, "zram"):
		return TypeZram
	case major == 43 || strings.HasPrefix(name, "nbd"):
		return TypeNBD
	case strings.HasPrefix(name, "rbd"):
		return TypeRBD
	}
	return TypeDisk
}

// readDevice gathers everything about one /sys/block entry. skip is true for
// hidden devices (NVMe multipath path devices), which are not usable on
// their own.
func (s Scanner) readDevice(name string, links linkIndex) (Device, []partInfo, string, bool) {
	d := Device{KernelName: name, DevPath: "/dev/" + name}
	a := attrReader{dir: s.path("sys", "block", name), errs: &d.ScanErrors}
	if a.flag("hidden") {
		return d, nil, "", true
	}
	devNum := a.required("dev")
	if devNum != "" {
		maj, minor, err := parseMajorMinor(devNum)
		if err != nil {
			d.ScanErrors = append(d.ScanErrors, fmt.Sprintf("parsing %s: %v", filepath.Join(a.dir, "dev"), err))
			devNum = ""
		} else {
			d.Major, d.Minor = maj, minor
		}
	}
	if sz := a.required("size"); sz != "" {
		n, err := strconv.ParseUint(sz, 10, 64)
		if err != nil || n > (1<<63-1)/512 {
			d.ScanErrors = append(d.ScanErrors, fmt.Sprintf("parsing %s: %q is not a sector count", filepath.Join(a.dir, "size"), sz))
		} else {
			d.SizeBytes = n * 512
		}
	}
	d.LogicalSectorSize = a.int("queue/logical_block_size")
	d.PhysicalSectorSize = a.int("queue/physical_block_size")
	d.Rotational = a.flag("queue/rotational")
	d.Removable = a.flag("removable")
	d.ReadOnly = a.flag("ro")
	d.Model = a.get("device/model")
	d.Vendor = a.get("device/vendor")
	d.Serial = a.get("device/serial")
	if d.Serial == "" {
		d.Serial = a.get("serial")
	}
	d.WWN = a.get("wwid")
	if d.WWN == "" {
		d.WWN = a.get("device/wwid")
	}
	dmName, dmUUID := a.get("dm/name"), a.get("dm/uuid")
	_, dmErr := os.Stat(filepath.Join(a.dir, "dm"))
	_, mdErr := os.Stat(filepath.Join(a.dir, "md"))
	d.Type = classify(name, d.Major, dmUUID, dmErr == nil, mdErr == nil)
	if d.Type == TypeLoop {
		d.LoopBackingFile = a.get("loop/backing_file")
	}

	holders := map[string]bool{}
	for _, h := range a.list("holders") {
		holders[h] = true
	}
	var parts []partInfo
	var partUdevTypes []string
	for _, sub := range a.list("") {
		if _, err := os.Stat(filepath.Join(a.dir, sub, "partition")); err != nil {
			continue
		}
		pa := attrReader{dir: filepath.Join(a.dir, sub), errs: &d.ScanErrors}
		p := partInfo{name: sub, devNum: pa.get("dev")}
		parts = append(parts, p)
		d.Partitions = append(d.Partitions, sub)
		d.GPTPartitions = append(d.GPTPartitions, GPTPartition{
			Name:             sub,
			Number:           pa.int("partition"),
			KernelStartBytes: int64(pa.int("start")) * 512,
			KernelSizeBytes:  int64(pa.int("size")) * 512,
		})
		for _, h := range pa.list("holders") {
			holders[h] = true
		}
		if u, ok := s.readUdev(p.devNum, &d.ScanErrors); ok {
			partUdevTypes = append(partUdevTypes, u.Properties["ID_FS_TYPE"])
		}
	}
	for h := range holders {
		d.Holders = append(d.Holders, h)
	}
	sort.Strings(d.Holders)
	sort.Strings(d.Partitions)

	udev, haveUdev := s.readUdev(devNum, &d.ScanErrors)
	linkSet := map[string]bool{}
	for _, l := range links.byKernel[name] {
		linkSet[l] = true
	}
	if haveUdev {
		for _, l := range udev.Links {
			if strings.HasPrefix(l, "/dev/disk/by-") {
				linkSet[l] = true
			}
		}
		p := udev.Properties
		if v := p["ID_WWN"]; v != "" {
			d.WWN = v
		}
		if v := firstNonEmpty(p["ID_SERIAL_SHORT"], p["ID_SERIAL"]); v != "" {
			d.Serial = v
		}
		d.Model = firstNonEmpty(d.Model, p["ID_MODEL"])
		d.Vendor = firstNonEmpty(d.Vendor, p["ID_VENDOR"])
		if v := p["ID_FS_TYPE"]; v != "" {
			d.FSType, d.FSUUID, d.FSLabel = v, p["ID_FS_UUID"], p["ID_FS_LABEL"]
			d.Signatures = append(d.Signatures, v)
		}
		d.PartTableType = p["ID_PART_TABLE_TYPE"]
	}
	for l := range linkSet {
		d.Links = append(d.Links, l)
	}
	sort.Strings(d.Links)

	s.probe(&d)

	for _, t := range partUdevTypes {
		d.LVMPV = d.LVMPV || t == SigLVM2
		d.MDMember = d.MDMember || t == SigMDRaid
	}
	d.LVMPV = d.LVMPV || d.HasSignature(SigLVM2)
	d.MDMember = d.MDMember || d.HasSignature(SigMDRaid)
	for _, h := range d.Holders {
		if strings.HasPrefix(h, "md") {
			d.MDMember = true
		}
	}
	return d, parts, dmName, false
}

// applyProbe folds what the probe read (and what blkid reported, already
// in d.Blkid) into the device's facts, after the udev database's, and
// computes the content hash.
func (d *Device) applyProbe(res ProbeResult) {
	d.Probed = true
	d.NonZeroData, d.FirstNonZeroOffset, d.NonZeroInTail = res.NonZero, res.FirstNonZero, res.NonZeroInTail
	d.ProbedHeadBytes, d.ProbedTailBytes = res.HeadBytes, res.TailBytes
	for _, sig := range res.Signatures {
		if !d.HasSignature(sig) {
			d.Signatures = append(d.Signatures, sig)
		}
	}
	if d.FSType == "" && len(res.Signatures) > 0 {
		d.FSType, d.FSUUID, d.FSLabel = res.Signatures[0], res.FSUUID, res.FSLabel
	}
	if d.PartTableType == "" {
		d.PartTableType = res.PartTableType
	}
	d.BlueStore = res.BlueStore
	d.BlueStoreError = res.BlueStoreError
	if d.Blkid != nil {
		if t := d.Blkid.Values["TYPE"]; t != "" && !d.HasSignature(t) {
			d.Signatures = append(d.Signatures, t)
			if d.FSType == "" {
				d.FSType, d.FSUUID, d.FSLabel = t, d.Blkid.Values["UUID"], d.Blkid.Values["LABEL"]
			}
		}
		if pt := d.Blkid.Values["PTTYPE"]; pt != "" && d.PartTableType == "" {
			d.PartTableType = pt
		}
	}
	d.ContentHash = contentHash(res, d)
}

// contentHash digests what was read of a device: the probe windows (size
// included) and every signature found, by whichever source.
func contentHash(res ProbeResult, d *Device) string {
	h := sha256.New()
	h.Write(res.WindowDigest[:])
	sigs := append([]string(nil), d.Signatures...)
	sort.Strings(sigs)
	fmt.Fprintf(h, "\nsignatures=%q\nparttable=%q\n", sigs, d.PartTableType)
	if d.Blkid != nil {
		fmt.Fprintf(h, "blkid=%s\n", d.Blkid.String())
	}
	// What lies at the start of each DB and WAL partition, beyond the
	// windows (which hold the GPT itself, so any new partition changes
	// the digest already): an OSD's label written onto a partition is a
	// change of the disk. Disks without such partitions hash as before.
	for _, p := range d.GPTPartitions {
		if p.Probed {
			fmt.Fprintf(h, "part=%d %q %s %s %d %d %x\n", p.Number, p.Label, p.Type, p.PartUUID, p.StartBytes, p.SizeBytes, p.digest)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// probe opens the device node read-only, reads its signatures and asks the
// BusyChecker about exclusive holders. Optical drives and zero-sized
// devices (an unconnected nbd, a detached loop) are not opened: opening
// them can block or fail for reasons unrelated to their use, and they are
// rejected by the verdict chain anyway.
func (s Scanner) probe(d *Device) {
	if d.Type == TypeROM || d.SizeBytes == 0 {
		return
	}
	node := s.path("dev", d.KernelName)
	fd, err := unix.Open(node, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		d.OpenError = fmt.Errorf("opening %s: %w", node, err).Error()
		return
	}
	f := os.NewFile(uintptr(fd), node)
	if err := DropCache(f); err != nil {
		// Not fatal: a device that cannot be told so is read anyway,
		// and the failure says what the reads may have missed.
		d.ScanErrors = append(d.ScanErrors, fmt.Sprintf("dropping the cached pages of %s failed, so what was written through a partition may show late: %v", node, err))
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		d.OpenError = fmt.Errorf("seeking %s: %w", node, err).Error()
		_ = f.Close()
		return
	}
	res, err := ProbeSignatures(f, size)
	if err != nil {
		_ = f.Close()
		d.OpenError = fmt.Errorf("reading %s: %w", node, err).Error()
		return
	}
	prober := s.Blkid
	if prober == nil {
		prober = ExecBlkid{}
	}
	bres, berr := prober.Probe(f)
	if berr != nil {
		d.ScanErrors = append(d.ScanErrors, fmt.Sprintf("blkid could not run on %s, so the device is not assumed blank: %v", node, berr))
	} else if bres.Found() {
		d.Blkid = &bres
	}
	if len(d.GPTPartitions) > 0 || res.PartTableType == PartTableGPT {
		readPartitions(d, f, size)
	}
	_ = f.Close()
	d.applyProbe(res)

	checker := s.Busy
	if checker == nil {
		checker = ExclusiveOpenChecker{}
	}
	busy, err := checker.IsBusy(node)
	if err != nil {
		d.ScanErrors = append(d.ScanErrors, fmt.Errorf("checking whether %s is busy: %w", node, err).Error())
	}
	d.Busy = busy
	// Which partitions hold the claim: a running OSD claims its DB
	// partition, which makes the whole metadata device busy too.
	if busy {
		for i := range d.GPTPartitions {
			p := &d.GPTPartitions[i]
			if p.Name == "" {
				continue
			}
			pnode := s.path("dev", p.Name)
			claimed, err := checker.IsBusy(pnode)
			if err != nil {
				d.ScanErrors = append(d.ScanErrors, fmt.Errorf("checking whether %s is busy: %w", pnode, err).Error())
			}
			p.Claimed = claimed
		}
	}
}
