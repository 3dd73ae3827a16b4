package gpt

import (
	"strconv"
	"strings"
)

// The roles a partition label names, as Label and ParseLabel spell them.
const (
	// RoleDB is a partition holding an OSD's BlueStore DB.
	RoleDB = "db"
	// RoleWAL is a partition holding an OSD's BlueStore WAL.
	RoleWAL = "wal"
	// RoleOSD is a partition holding an OSD's data: one of the partitions
	// of a disk split into several OSDs.
	RoleOSD = "osd"
)

// labelPrefix is what every label of the operator's partitions starts with.
const labelPrefix = "ceph-"

// Label returns the GPT name of the operator's partition of the given role
// ("db", "wal" or "osd") and slot (1 or more) for the cluster with the given FSID:
// "ceph-db.<fsid8>.<slot>", where fsid8 is the first eight hex digits of
// the FSID in lower case. The FSID ties the partition to its cluster, so a
// metadata device of another cluster is never taken for this one's.
func Label(role, fsid string, slot int) string {
	return labelPrefix + role + "." + FSID8(fsid) + "." + strconv.Itoa(slot)
}

// FSID8 returns the first eight characters of a cluster FSID in lower case
// (the whole FSID when it is shorter), as labels carry it.
func FSID8(fsid string) string {
	fsid = strings.ToLower(fsid)
	if len(fsid) > 8 {
		fsid = fsid[:8]
	}
	return fsid
}

// ParseLabel splits a GPT name made by Label into its role ("db", "wal"
// or "osd"), the FSID's first eight hex digits and the slot. ok is false for
// any other name, including one with upper-case hex digits, a slot below 1
// or with leading zeros, or anything after the slot.
func ParseLabel(name string) (role, fsid8 string, slot int, ok bool) {
	rest, found := strings.CutPrefix(name, labelPrefix)
	if !found {
		return "", "", 0, false
	}
	fields := strings.Split(rest, ".")
	if len(fields) != 3 {
		return "", "", 0, false
	}
	role, fsid8, num := fields[0], fields[1], fields[2]
	if role != RoleDB && role != RoleWAL && role != RoleOSD {
		return "", "", 0, false
	}
	if len(fsid8) != 8 || strings.Trim(fsid8, "0123456789abcdef") != "" {
		return "", "", 0, false
	}
	if num == "" || num[0] == '0' || len(num) > 6 || strings.Trim(num, "0123456789") != "" {
		return "", "", 0, false
	}
	slot, err := strconv.Atoi(num)
	if err != nil || slot < 1 {
		return "", "", 0, false
	}
	return role, fsid8, slot, true
}
