package discovery

import (
	"regexp"
	"sort"
	"strings"
)

// identityKeys returns what identifies the medium behind a device, for
// finding one medium reachable through two device nodes (one LUN through
// two paths without multipathd, a SAN LUN presented twice, two loop devices
// on one file):
//
//   - the WWN, normalised (case, and the "naa."/"0x" spellings of udev and
//     sysfs); an all-zero WWN, which some devices report, identifies nothing;
//   - the serial number, only when there is no WWN (two devices with
//     different WWNs are different media even if a controller reports one
//     serial for all its namespaces), qualified by the NVMe namespace id;
//   - for a loop device, its backing file's keys (filesystem and inode, or
//     device number).
//
// Empty values never match anything. Devices that are themselves
// device-mapper or md arrays are left out: a multipath map rightly carries
// the WWN of its paths.
func identityKeys(d Device, loopKeys []string) []string {
	switch d.Type {
	case TypeDM, TypeLVM, TypeCrypt, TypeMpath, TypeMD, TypePart:
		return nil
	}
	var keys []string
	if w := normalizeWWN(d.WWN); w != "" {
		keys = append(keys, "wwn:"+w)
	} else if s := strings.TrimSpace(d.Serial); s != "" {
		k := "serial:" + s
		if m := nvmeNamespace.FindStringSubmatch(d.KernelName); m != nil {
			k += "#ns" + m[1]
		}
		keys = append(keys, k)
	}
	for _, k := range loopKeys {
		keys = append(keys, "loop:"+k)
	}
	return keys
}

var nvmeNamespace = regexp.MustCompile(`^nvme\d+n(\d+)$`)

// normalizeWWN lower-cases a WWN and drops the "naa." and "0x" prefixes
// that sysfs and udev spell the same NAA identifier with. It returns "" for
// a WWN whose digits are all zero.
func normalizeWWN(w string) string {
	w = strings.ToLower(strings.TrimSpace(w))
	w = strings.TrimPrefix(w, "naa.")
	w = strings.TrimPrefix(w, "0x")
	w = strings.Join(strings.Fields(w), " ")
	digits := strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(w, "eui."), "nguid."), "0.-")
	if digits == "" {
		return ""
	}
	return w
}

// markShared fills SharedWith on every device whose identity another
// device of the node shares. keys[i] are identityKeys of devs[i]. A device
// with holders (a path managed by dm-multipath or md) is left out: its
// holder is the one that uses the medium, and HasHolders says so.
func markShared(devs []Device, keys [][]string) {
	owners := map[string][]int{}
	for i, ks := range keys {
		if len(devs[i].Holders) > 0 {
			continue
		}
		for _, k := range ks {
			owners[k] = append(owners[k], i)
		}
	}
	for k, idx := range owners {
		if len(idx) < 2 {
			continue
		}
		for _, i := range idx {
			d := &devs[i]
			for _, j := range idx {
				if j != i && !contains(d.SharedWith, devs[j].KernelName) {
					d.SharedWith = append(d.SharedWith, devs[j].KernelName)
				}
			}
			what := describeIdentity(k)
			if !contains(d.SharedIdentity, what) {
				d.SharedIdentity = append(d.SharedIdentity, what)
			}
		}
	}
	for i := range devs {
		sort.Strings(devs[i].SharedWith)
		sort.Strings(devs[i].SharedIdentity)
	}
}

// describeIdentity turns an identity key into words for the message.
func describeIdentity(k string) string {
	switch {
	case strings.HasPrefix(k, "wwn:"):
		return "WWN " + strings.TrimPrefix(k, "wwn:")
	case strings.HasPrefix(k, "serial:"):
		s, _, _ := strings.Cut(strings.TrimPrefix(k, "serial:"), "#ns")
		return "serial " + s
	default:
		return "backing file"
	}
}
