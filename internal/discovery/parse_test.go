package discovery

import (
	"reflect"
	"strings"
	"testing"
)

const sampleUdev = `S:disk/by-id/wwn-0x5000c500a1b2c3d4
S:disk/by-path/pci-0000:00:1f.2-ata-1
S:disk/by-id/ata-ST4000NM0035-1V4107_ZC1ABCDE
S:disk/by-id/wwn-0x5000c500a1b2c3d4
I:4026112
G:systemd
E:ID_ATA=1
E:ID_TYPE=disk
E:ID_BUS=ata
E:ID_MODEL=ST4000NM0035-1V4107
E:ID_SERIAL=ST4000NM0035-1V4107_ZC1ABCDE
E:ID_SERIAL_SHORT=ZC1ABCDE
E:ID_WWN=0x5000c500a1b2c3d4
E:ID_PART_TABLE_TYPE=gpt
E:ID_FS_LABEL=a=b
E:=novalue
X:garbage
nonsense
E:ID_EMPTY=
`

func TestParseUdevData(t *testing.T) {
	u := ParseUdevData([]byte(sampleUdev))
	wantLinks := []string{
		"/dev/disk/by-id/ata-ST4000NM0035-1V4107_ZC1ABCDE",
		"/dev/disk/by-id/wwn-0x5000c500a1b2c3d4",
		"/dev/disk/by-path/pci-0000:00:1f.2-ata-1",
	}
	if !reflect.DeepEqual(u.Links, wantLinks) {
		t.Errorf("links %v", u.Links)
	}
	for k, want := range map[string]string{
		"ID_WWN": "0x5000c500a1b2c3d4", "ID_SERIAL_SHORT": "ZC1ABCDE", "ID_PART_TABLE_TYPE": "gpt",
		"ID_FS_LABEL": "a=b", "ID_EMPTY": "",
	} {
		if got, ok := u.Properties[k]; !ok || got != want {
			t.Errorf("%s = %q (%v), want %q", k, got, ok, want)
		}
	}
	if _, ok := u.Properties[""]; ok {
		t.Error("empty key accepted")
	}
	if len(u.Properties) != 10 {
		t.Errorf("%d properties: %v", len(u.Properties), u.Properties)
	}
	if e := ParseUdevData(nil); len(e.Properties) != 0 || e.Links != nil {
		t.Errorf("empty input: %+v", e)
	}
}

func FuzzParseUdevData(f *testing.F) {
	f.Add([]byte(sampleUdev))
	f.Add([]byte("E:A=B\nS:x\n"))
	f.Add([]byte("E:=\nS:\n\n:\nE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u := ParseUdevData(b)
		for k := range u.Properties {
			if k == "" || strings.Contains(k, "\n") {
				t.Fatalf("bad key %q", k)
			}
		}
		for i, l := range u.Links {
			if !strings.HasPrefix(l, "/dev/") || (i > 0 && u.Links[i-1] >= l) {
				t.Fatalf("bad links %q", u.Links)
			}
		}
	})
}

const sampleMountinfo = `22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw,lowerdir=/l
36 22 8:17 / /var/lib/my\040data rw,noatime shared:5 master:1 - ext4 /dev/sdb1 rw,errors=remount-ro
37 22 8:18 /sub /mnt/tab\011and\134slash rw - xfs /dev/sdb2 rw
38 22 0:45 / /mnt/btr rw,relatime - btrfs /dev/sdc rw,space_cache
`

func TestParseMountinfo(t *testing.T) {
	ms, err := ParseMountinfo([]byte(sampleMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("%d mounts", len(ms))
	}
	want := MountInfo{
		MountID: 36, ParentID: 22, Major: 8, Minor: 17, Root: "/", MountPoint: "/var/lib/my data",
		Options: "rw,noatime", Optional: []string{"shared:5", "master:1"}, FSType: "ext4", Source: "/dev/sdb1",
		SuperOptions: "rw,errors=remount-ro",
	}
	if !reflect.DeepEqual(ms[1], want) {
		t.Errorf("got %+v\nwant %+v", ms[1], want)
	}
	if ms[2].MountPoint != "/mnt/tab\tand\\slash" || ms[2].Root != "/sub" || ms[2].Optional != nil {
		t.Errorf("escapes: %+v", ms[2])
	}
	if ms[3].Major != 0 || ms[3].Minor != 45 || ms[3].Source != "/dev/sdc" {
		t.Errorf("btrfs: %+v", ms[3])
	}
	for _, bad := range []string{
		"36 22 8:17 / /x rw - ext4\n",             // too few fields
		"36 22 8:17 / /x rw a b c d e\n",          // no separator
		"x 22 8:17 / /x rw - ext4 /dev/sdb1 rw\n", // bad id
		"36 22 817 / /x rw - ext4 /dev/sdb1 rw\n", // bad dev
	} {
		if _, err := ParseMountinfo([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`a\040b`: "a b", `\134`: `\`, `\12`: `\12`, `\999`: `\999`, `\400`: `\400`, `end\`: `end\`, `\011\012`: "\t\n",
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte(sampleMountinfo))
	f.Add([]byte("1 2 3:4 / / rw - a b c\n"))
	f.Add([]byte("1 2 3:4 \\0 \\ rw x - - - -\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseMountinfo(b)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Major < 0 || m.Minor < 0 {
				t.Fatalf("negative device number: %+v", m)
			}
		}
	})
}

func TestParseSwaps(t *testing.T) {
	in := "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sdb2                               partition\t1048572\t\t0\t\t-2\n/swap\\040file file 1024 0 -3\n\n"
	got := ParseSwaps([]byte(in))
	want := []SwapEntry{{Filename: "/dev/sdb2", Type: "partition"}, {Filename: "/swap file", Type: "file"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}
