package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// Badger takes its MANIFEST as the truth about which table files exist: on
// open it deletes every table the MANIFEST does not list, and it creates an
// empty MANIFEST when there is none. A MANIFEST cut short or lost would so
// make Badger delete every master key, even for a read-only command. The
// guard below checks, before Badger may touch the directory, that the
// MANIFEST accounts for the tables on disk, and refuses with
// ErrKeyringCorrupt otherwise: a damaged keyring must be restored from a
// bundle, never silently emptied.

// restoreHint ends every refusal of the guard.
const restoreHint = "nothing was changed; restore the keyring from a bundle (kmsfs keyring import) or from a backup of the directory"

// guardDatabase refuses a keyring directory whose Badger files Badger would
// discard on open. A directory with no database files at all passes (a new
// keyring).
func guardDatabase(dir string) error {
	tables, other, err := databaseFiles(dir)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	f, err := os.Open(filepath.Join(dir, badger.ManifestFilename))
	if errors.Is(err, fs.ErrNotExist) {
		if len(tables) > 0 || other > 0 {
			return corrupt("the MANIFEST is missing but %d table and %d other database files exist; %s", len(tables), other, restoreHint)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	// Reading only: Badger truncates a partial trailing entry itself, on
	// its own file handle, after this check.
	m, complete, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir))
	if err != nil {
		return corrupt("the MANIFEST is damaged (%v); %s", err, restoreHint)
	}
	if err := checkTables(m, tables, complete < st.Size()); err != nil {
		return err
	}
	for id := range tables {
		if err := checkTableFile(filepath.Join(dir, fmt.Sprintf("%06d.sst", id))); err != nil {
			return err
		}
	}
	return nil
}

// checkTableFile opens one table read-only and verifies its checksums.
// Badger opens tables on goroutines of its own, where a damaged table (one
// cut short, say) panics beyond any recover; here the panic is this
// goroutine's and becomes ErrKeyringCorrupt.
func checkTableFile(path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corrupt("table %s is damaged (%v); %s", filepath.Base(path), r, restoreHint)
		}
	}()
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("keyring: %w", err)
	}
	if err != nil {
		// An empty table cannot be mapped; no table Badger writes is empty.
		return corrupt("table %s cannot be read (%v); %s", filepath.Base(path), err, restoreHint)
	}
	t, err := table.OpenTable(mf, table.Options{ChkMode: options.OnTableRead})
	if err != nil {
		return corrupt("table %s is damaged (%v); %s", filepath.Base(path), err, restoreHint)
	}
	return t.MmapFile.Close(-1)
}

// checkTables compares the tables the MANIFEST lists with those on disk.
// A table on disk that the MANIFEST does not list is normal after a crash
// in the middle of a compaction (Badger removes the leftover), but not when
// the MANIFEST itself was cut (partial) or lists nothing at all: then its
// missing entries are what named those tables.
func checkTables(m badger.Manifest, onDisk map[uint64]bool, partial bool) error {
	for id := range m.Tables {
		if !onDisk[id] {
			return corrupt("table %06d.sst, listed in the MANIFEST, is missing; %s", id, restoreHint)
		}
	}
	var unlisted int
	for id := range onDisk {
		if _, ok := m.Tables[id]; !ok {
			unlisted++
		}
	}
	if unlisted > 0 && (partial || len(m.Tables) == 0) {
		return corrupt("the MANIFEST is cut short: %d of %d table files are not in it; %s", unlisted, len(onDisk), restoreHint)
	}
	return nil
}

// databaseFiles returns the IDs of the table files in dir and the number
// of its other Badger files (value log, memtable logs).
func databaseFiles(dir string) (tables map[uint64]bool, other int, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	tables = map[uint64]bool{}
	for _, e := range ents {
		name := e.Name()
		switch filepath.Ext(name) {
		case ".sst":
			id, err := strconv.ParseUint(strings.TrimSuffix(name, ".sst"), 10, 64)
			if err != nil {
				continue // not a name Badger gives
			}
			tables[id] = true
		case ".vlog", ".mem":
			if fi, err := e.Info(); err == nil && fi.Size() > 0 {
				other++
			}
		}
	}
	return tables, other, nil
}
