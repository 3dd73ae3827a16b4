package discovery

import (
	"reflect"
	"testing"
)

// TestMarkShared pins what counts as one medium seen twice.
func TestMarkShared(t *testing.T) {
	devs := []Device{
		{KernelName: "sda", Type: TypeDisk, WWN: "0x5000c500c0ffee01", Serial: "A"},
		{KernelName: "sdb", Type: TypeDisk, WWN: "naa.5000C500C0FFEE01", Serial: "B"},
		// Same serial, different WWNs: two namespaces or LUNs of one
		// controller, not one medium.
		{KernelName: "sdc", Type: TypeDisk, WWN: "0x5000c500c0ffee03", Serial: "S"},
		{KernelName: "sdd", Type: TypeDisk, WWN: "0x5000c500c0ffee04", Serial: "S"},
		// An all-zero WWN identifies nothing; the serial then decides.
		{KernelName: "sde", Type: TypeDisk, WWN: "eui.0000000000000000", Serial: "T"},
		{KernelName: "sdf", Type: TypeDisk, Serial: "T"},
		// NVMe namespaces of one controller share its serial.
		{KernelName: "nvme0n1", Type: TypeDisk, Serial: "N"},
		{KernelName: "nvme0n2", Type: TypeDisk, Serial: "N"},
		// Two controllers reaching one namespace without native multipath.
		{KernelName: "nvme1n1", Type: TypeDisk, Serial: "M"},
		{KernelName: "nvme2n1", Type: TypeDisk, Serial: "M"},
		// A multipath map carries its paths' WWN; paths with a holder are
		// the map's business.
		{KernelName: "dm-0", Type: TypeMpath, WWN: "0x6000"},
		{KernelName: "sdg", Type: TypeDisk, WWN: "0x6000", Holders: []string{"dm-0"}},
		{KernelName: "sdh", Type: TypeDisk, WWN: "0x6000", Holders: []string{"dm-0"}},
		// Empty identities never match.
		{KernelName: "vda", Type: TypeDisk},
		{KernelName: "vdb", Type: TypeDisk},
	}
	keys := make([][]string, len(devs))
	for i, d := range devs {
		keys[i] = identityKeys(d, nil)
	}
	markShared(devs, keys)
	got := map[string][]string{}
	for _, d := range devs {
		if len(d.SharedWith) > 0 {
			got[d.KernelName] = d.SharedWith
		}
	}
	want := map[string][]string{
		"sda": {"sdb"}, "sdb": {"sda"},
		"sde": {"sdf"}, "sdf": {"sde"},
		"nvme1n1": {"nvme2n1"}, "nvme2n1": {"nvme1n1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("shared: got %v, want %v", got, want)
	}
	if !reflect.DeepEqual(devs[0].SharedIdentity, []string{"WWN 5000c500c0ffee01"}) || !reflect.DeepEqual(devs[4].SharedIdentity, []string{"serial T"}) {
		t.Fatalf("identities: %v, %v", devs[0].SharedIdentity, devs[4].SharedIdentity)
	}
}
