package names

import "strings"

// Marked names, NAMES.md §8. An on-disk entry that does not decrypt is listed
// as MarkPrefix || diskName when that fits in MaxNameLen bytes, else as
// MarkHashPrefix || base64url(SHA-256(diskName)). Both prefixes are reserved:
// EncryptName refuses plaintext names that start with them, and DecryptName
// never returns one, so a marked name never collides with a real name. A
// marked name contains '~', which base64url lacks, so it is never a valid
// encoded name either.
const (
	MarkPrefix     = "kmsfs-undecryptable~"
	MarkHashPrefix = "kmsfs-undecryptable-sha256~"

	maxMarkedDirect = MaxNameLen - len(MarkPrefix)
)

// Mark returns the name under which the on-disk entry diskName is listed when
// it does not decrypt. For diskName of up to 235 bytes the result is
// reversible with [Unmark]; for longer ones the lookup side must list the
// directory and pick the entry whose Mark equals the looked-up name.
func Mark(diskName string) string {
	if len(diskName) <= maxMarkedDirect {
		return MarkPrefix + diskName
	}
	return MarkHashPrefix + sha256Name(diskName)
}

// Unmark returns the on-disk name that Mark turned into name. ok is false if
// name is not a reversible marked name: either not marked at all, or a hashed
// mark (check [IsMarked] and resolve by listing).
func Unmark(name string) (diskName string, ok bool) {
	rest, found := strings.CutPrefix(name, MarkPrefix)
	if !found || rest == "" || len(rest) > maxMarkedDirect {
		return "", false
	}
	return rest, true
}

// IsMarked reports whether name starts with one of the marker prefixes, that
// is whether it can only name an undecryptable entry.
func IsMarked(name string) bool {
	return strings.HasPrefix(name, MarkPrefix) || strings.HasPrefix(name, MarkHashPrefix)
}

// IsReserved reports whether a directory listing must hide diskName
// (NAMES.md §7): the IV file and any sync-tool copy of it ("kmsfs (1).diriv",
// "kmsfs.diriv (conflicted copy ...)", "kmsfs.sync-conflict-....diriv",
// WriteDirIV's temporary files), and long-name side files and their copies.
// No encoded or long name is reserved: encoded names contain no '.', and a
// long name never contains ".diriv" or ".name".
func IsReserved(diskName string) bool {
	if strings.HasPrefix(diskName, "kmsfs") && strings.Contains(diskName, ".diriv") {
		return true
	}
	return strings.HasPrefix(diskName, LongPrefix) && strings.Contains(diskName, LongSuffix)
}
