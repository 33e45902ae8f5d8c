package session

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// KmsfsFSType is the filesystem type of kmsfs mounts in mountinfo (FUSE
// with subtype "kmsfs", fs.Mount's Name). fs.Mount sets the source
// (FsName) to "kmsfs", not to the CIPHERDIR, so mountinfo cannot tell
// which tree a kmsfs mount serves; the control socket can.
const KmsfsFSType = "fuse.kmsfs"

// MountInfo is one line of /proc/self/mountinfo.
type MountInfo struct {
	MountPoint string
	FSType     string
	Source     string
}

// ParseMountinfo parses the content of /proc/<pid>/mountinfo (proc(5)),
// skipping lines it cannot parse.
func ParseMountinfo(b []byte) []MountInfo {
	var out []MountInfo
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := parseMountLine(line); ok {
			out = append(out, m)
		}
	}
	return out
}

// parseMountLine parses "id parent maj:min root mountpoint opts
// [optional...] - fstype source superopts".
func parseMountLine(line string) (MountInfo, bool) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || len(f) < sep+3 {
		return MountInfo{}, false
	}
	mp, ok := unescapeMount(f[4])
	if !ok {
		return MountInfo{}, false
	}
	src, ok := unescapeMount(f[sep+2])
	if !ok {
		return MountInfo{}, false
	}
	return MountInfo{MountPoint: mp, FSType: f[sep+1], Source: src}, true
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in a mountinfo field.
func unescapeMount(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 3
	}
	return b.String(), true
}

// Mounts returns this process's mounts.
func Mounts() ([]MountInfo, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("session: reading mounts: %w", err)
	}
	return ParseMountinfo(b), nil
}

// MountOf returns the mount that holds path (absolute, symlink-free): the
// one with the longest mount point that is path or a parent of it; the
// last such line wins, as the kernel stacks later mounts on top.
func MountOf(mounts []MountInfo, path string) (MountInfo, bool) {
	var best MountInfo
	found := false
	for _, m := range mounts {
		if !within(path, m.MountPoint) {
			continue
		}
		if !found || len(m.MountPoint) >= len(best.MountPoint) {
			best, found = m, true
		}
	}
	return best, found
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel)
}
