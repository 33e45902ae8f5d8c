package session_test

import (
	"testing"

	"github.com/kmsfs/kmsfs/internal/session"
)

const sampleMountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
85 27 0:45 / /tmp/kmsfs-it-1/plain rw,nosuid,nodev,relatime shared:40 - fuse.kmsfs kmsfs rw,user_id=0,group_id=0
86 27 0:46 / /mnt/with\040space rw - fuse.kmsfs kmsfs rw
87 86 0:47 / /mnt/with\040space/inner rw - tmpfs tm\134p rw
garbage line
88 27 0:48 / /bad\04 rw - tmpfs x rw
89 27 0:49 / /noseparator rw tmpfs x rw
`

func TestParseMountinfo(t *testing.T) {
	got := session.ParseMountinfo([]byte(sampleMountinfo))
	want := []session.MountInfo{
		{"/proc", "proc", "proc"},
		{"/", "ext4", "/dev/vda"},
		{"/tmp/kmsfs-it-1/plain", session.KmsfsFSType, "kmsfs"},
		{"/mnt/with space", session.KmsfsFSType, "kmsfs"},
		{"/mnt/with space/inner", "tmpfs", `tm\p`},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d mounts %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mount %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestMountOf(t *testing.T) {
	mounts := session.ParseMountinfo([]byte(sampleMountinfo))
	for _, tc := range []struct {
		path, want string
	}{
		{"/tmp/kmsfs-it-1/plain/a/b", "/tmp/kmsfs-it-1/plain"},
		{"/tmp/kmsfs-it-1/plain", "/tmp/kmsfs-it-1/plain"},
		{"/tmp/kmsfs-it-1/plainer", "/"},
		{"/mnt/with space/inner/x", "/mnt/with space/inner"},
		{"/mnt/with space/x", "/mnt/with space"},
		{"/etc", "/"},
	} {
		m, ok := session.MountOf(mounts, tc.path)
		if !ok || m.MountPoint != tc.want {
			t.Errorf("MountOf(%q) = %+v, %v; want %q", tc.path, m, ok, tc.want)
		}
	}
	if _, ok := session.MountOf(nil, "/x"); ok {
		t.Error("MountOf found a mount in an empty table")
	}
}

// TestMountsSelf reads this process's real table, which has a root mount.
func TestMountsSelf(t *testing.T) {
	mounts, err := session.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := session.MountOf(mounts, "/"); !ok || m.MountPoint != "/" {
		t.Errorf("no root mount in %+v", mounts)
	}
}

// FuzzParseMountinfo: no panic, and every parsed mount point is absolute
// or at least non-empty.
func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte(sampleMountinfo))
	f.Add([]byte(`1 2 3:4 / /a\ rw - t s o`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range session.ParseMountinfo(b) {
			if m.MountPoint == "" || m.FSType == "" {
				t.Fatalf("parsed an empty field: %+v", m)
			}
		}
	})
}
