package simnode

import "testing"

// TestDiskKey: a hardware identity names a disk wherever it is plugged
// in; a kernel name or a by-path link only on its node.
func TestDiskKey(t *testing.T) {
	for _, tc := range []struct{ node, id, want string }{
		{"n1", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"},
		{"n2", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"},
		{"n1", "wwn:0x5000c500a1b2c3d4", "wwn:0x5000c500a1b2c3d4"},
		{"n1", "/dev/sde", "n1:/dev/sde"},
		{"n2", "/dev/sde", "n2:/dev/sde"},
		{"n1", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1", "n1:/dev/disk/by-path/pci-0000:00:1f.2-ata-1"},
	} {
		if got := DiskKey(tc.node, tc.id); got != tc.want {
			t.Errorf("DiskKey(%q, %q) = %q, want %q", tc.node, tc.id, got, tc.want)
		}
	}
}
