package local

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// The audit log.
//
// Every operation appends an AuditRecord carrying Hash = HMAC-SHA-256(audit
// key, previous record's Hash || this record's canonical JSON), the first
// record chaining from 32 zero bytes, so [Keyring.VerifyAudit] detects an
// edited, reordered or deleted record. "meta/audit-head" (written in the
// same transaction as each batch, and MACed too) names the newest record,
// so deleting the tail is detected as well. The audit key is random, sealed
// under the KEK and known only to whoever has the passphrase (auditkey.go),
// so someone who can write the database cannot rebuild the chain after an
// edit, as they could a plain hash chain. Records written before a
// keyring got its audit key keep their SHA-256 hashes (see auditkey.go).
//
// Writes stay off the hot path:
//   - state changes (create, rotate, enable, alias, import, export, ...) are
//     written and synced before the call returns;
//   - records of cryptographic operations (Encrypt, Decrypt, ReEncrypt,
//     GenerateDataKey*, WrapDEK, Sign, Verify, GenerateMac, ...) are queued
//     at once, with their time, and chained and written by the background
//     writer, in batches, at least once a second and on Close. The queue
//     keeps the order of the calls, and every record, queued or synchronous,
//     is chained in that order, so the chain is the one chaining each
//     record as it was queued would make; the caller pays a slice append
//     under a mutex, not the record's JSON encoding and HMAC;
//   - UnwrapDEK (every file open) is aggregated: calls are counted in memory
//     per (key, version, caller, outcome, second) — a map increment under a
//     mutex, no hashing, no I/O — and each bucket becomes one record at the
//     next flush (at least once a second), with Count the number of calls it
//     stands for. A thousand opens of files under one key version in one
//     second make one record.
//
// A crash can therefore lose up to a second of crypto-operation records.

const (
	outcomeSuccess     = "Success"
	auditFlushInterval = time.Second
	auditBatchSize     = 256  // records per transaction, under Badger's limit
	auditKickSize      = 4096 // pending records that trigger an early flush
)

func outcome(err error) string {
	if err == nil {
		return outcomeSuccess
	}
	name, _ := keyring.ErrorType(err)
	return name
}

func contextKeys(ec map[string]string) []string {
	if len(ec) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(ec))
}

// auditHashSize is the size of a record hash and of the head MAC.
const auditHashSize = sha256.Size

type auditHead struct {
	Seq  uint64
	Hash []byte
	MAC  []byte `json:",omitempty"` // headMAC; absent only in legacy keyrings
}

type unwrapBucket struct {
	keyID, caller, outcome string
	version                uint32
	second                 int64
}

type auditLog struct {
	db    *database
	clock func() time.Time
	log   *slog.Logger
	key   []byte // the audit key; fixed after Open, zeroed by Keyring.release
	from  uint64 // first HMAC-chained record; older ones are plain SHA-256

	mu     sync.Mutex // guards closed, queued and unwraps
	closed bool
	// queued are the records appended since the last flush, in call
	// order, not yet chained (no Seq or Hash).
	queued  []keyring.AuditRecord
	unwraps map[unwrapBucket]uint64

	// flushMu guards seq, prev and unwritten: one writer chains and
	// writes, so batches land in seq order.
	flushMu sync.Mutex
	seq     uint64
	prev    []byte
	// unwritten are chained records a failed write left, retried first.
	unwritten []keyring.AuditRecord
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}

	// testOnlyScanHook, if set, runs in every scan before it reads.
	testOnlyScanHook func()
}

func newAuditLog(db *database, clock func() time.Time, log *slog.Logger, key []byte, from uint64) *auditLog {
	return &auditLog{db: db, clock: clock, log: log, key: key, from: from, prev: make([]byte, auditHashSize),
		unwraps: make(map[unwrapBucket]uint64), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
}

func auditDBKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(auditPrefix), seq)
}

// load continues the chain from the stored head.
func (a *auditLog) load() error {
	var head auditHead
	err := a.db.View(func(txn *badger.Txn) error {
		found, err := getJSON(txn, []byte(auditHeadKey), &head)
		if found && len(head.Hash) != auditHashSize {
			return fmt.Errorf("%w: bad audit head", keyring.ErrInternal)
		}
		return err
	})
	if err != nil {
		return err
	}
	if head.Seq > 0 {
		a.seq, a.prev = head.Seq, head.Hash
	}
	return nil
}

// start runs the background flusher until close.
func (a *auditLog) start() {
	go func() {
		defer close(a.done)
		t := time.NewTicker(auditFlushInterval)
		defer t.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-t.C:
			case <-a.kick:
			}
			if err := a.flush(); err != nil {
				a.log.Warn("keyring: writing audit records", "err", err)
			}
		}
	}()
}

// close stops the flusher and writes what is pending. Later appends are
// dropped.
func (a *auditLog) close() error {
	a.mu.Lock()
	wasClosed := a.closed
	a.closed = true
	a.mu.Unlock()
	if wasClosed {
		return nil
	}
	close(a.stop)
	<-a.done
	return a.flush()
}

// chain gives each of recs, in order, its sequence number and hash. The
// caller holds a.flushMu.
func (a *auditLog) chain(recs []keyring.AuditRecord) {
	if len(recs) == 0 {
		return
	}
	h := a.newHasher()
	for i := range recs {
		r := &recs[i]
		a.seq++
		r.Seq = a.seq
		r.Time = r.Time.UTC()
		if r.Count == 0 {
			r.Count = 1
		}
		r.Hash = h.hash(a.prev, r)
		a.prev = r.Hash
	}
}

// recordHasher hashes the records of one pass over the chain (a flush, a
// verification) with one HMAC state and one encoding buffer, instead of
// a new HMAC (two SHA-256 states and their pads) and buffer per record.
type recordHasher struct {
	key  []byte
	from uint64
	mac  hash.Hash
	buf  bytes.Buffer
	enc  *json.Encoder
}

func (a *auditLog) newHasher() *recordHasher {
	h := &recordHasher{key: a.key, from: a.from}
	h.enc = json.NewEncoder(&h.buf)
	return h
}

// hash chains r to prev: HMAC-SHA-256(audit key, prev || canonical JSON
// of r without its Hash), or for records older than the audit key plain
// SHA-256(prev || JSON). The JSON of a struct is canonical: fields in
// declaration order, no maps.
func (h *recordHasher) hash(prev []byte, r *keyring.AuditRecord) []byte {
	b := h.canonical(r)
	if r.Seq < h.from {
		return legacyHash(prev, b)
	}
	if h.mac == nil {
		h.mac = hmac.New(sha256.New, h.key)
	} else {
		h.mac.Reset()
	}
	h.mac.Write(prev)
	h.mac.Write(b)
	return h.mac.Sum(nil)
}

// canonical is canonicalRecord into h's buffer, valid until the next call:
// an Encoder writes what Marshal returns (HTML escaped alike), then a
// newline, which is cut.
func (h *recordHasher) canonical(r *keyring.AuditRecord) []byte {
	c := *r
	c.Hash = nil
	h.buf.Reset()
	if err := h.enc.Encode(&c); err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	b := h.buf.Bytes()
	return b[:len(b)-1]
}

// legacyHash is the unkeyed chain of keyrings from before the audit key.
func legacyHash(prev, record []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(record)
	return h.Sum(nil)
}

func canonicalRecord(r *keyring.AuditRecord) []byte {
	c := *r
	c.Hash = nil
	b, err := json.Marshal(&c)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	return b
}

// append queues r for the background writer, which chains it. Its time
// is taken under a.mu, so times never go back along the queue.
func (a *auditLog) append(r keyring.AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	if r.Time.IsZero() {
		r.Time = a.clock()
	}
	a.queued = append(a.queued, r)
	if len(a.queued) >= auditKickSize {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// appendSync queues r and writes everything queued before returning.
func (a *auditLog) appendSync(r keyring.AuditRecord) {
	a.append(r)
	if err := a.flush(); err != nil {
		a.log.Warn("keyring: writing audit records", "err", err)
	}
}

// countUnwrap aggregates one UnwrapDEK call.
func (a *auditLog) countUnwrap(ctx context.Context, keyID string, u keyUse, err error) {
	b := unwrapBucket{keyID: keyID, caller: keyring.CallerFrom(ctx), outcome: outcome(err), version: u.version, second: a.clock().Unix()}
	if u.id != ([16]byte{}) {
		b.keyID = u.kid
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.unwraps[b]++
	}
}

// drainUnwrapsLocked appends the aggregated unwraps to recs as records.
func (a *auditLog) drainUnwrapsLocked(recs []keyring.AuditRecord) []keyring.AuditRecord {
	buckets := slices.SortedFunc(maps.Keys(a.unwraps), func(x, y unwrapBucket) int {
		return cmp.Or(cmp.Compare(x.second, y.second), strings.Compare(x.keyID, y.keyID),
			cmp.Compare(x.version, y.version), strings.Compare(x.caller, y.caller), strings.Compare(x.outcome, y.outcome))
	})
	for _, b := range buckets {
		recs = append(recs, keyring.AuditRecord{Time: time.Unix(b.second, 0), Op: "UnwrapDEK", KeyId: b.keyID, KeyVersion: b.version,
			Caller: b.caller, Outcome: b.outcome, Count: a.unwraps[b]})
	}
	clear(a.unwraps)
	return recs
}

// flush chains every queued record and the aggregated unwraps, in that
// order, after what a failed flush left, and writes them in batches, each
// with the head.
func (a *auditLog) flush() error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	fresh := a.drainUnwrapsLocked(a.queued)
	a.queued = nil
	a.mu.Unlock()
	a.chain(fresh)
	batch := fresh
	if len(a.unwritten) > 0 {
		batch = append(a.unwritten, fresh...)
	}
	a.unwritten = nil
	for len(batch) > 0 {
		n := min(len(batch), auditBatchSize)
		if err := a.db.updateAudit(func(txn *badger.Txn) error { return a.writeAudit(txn, batch[:n]) }); err != nil {
			a.unwritten = batch // retried on the next flush
			return fmt.Errorf("keyring: audit: %w", err)
		}
		batch = batch[n:]
	}
	a.reuse(fresh)
	return nil
}

// reuse gives the queue back a written batch's array, so that the queue
// does not grow a new one, append by append, after every flush. A batch
// of an unusual burst is left to the collector.
func (a *auditLog) reuse(batch []keyring.AuditRecord) {
	if cap(batch) > 2*auditKickSize {
		return
	}
	clear(batch[:cap(batch)]) // drop the strings for the collector
	a.mu.Lock()
	if a.queued == nil {
		a.queued = batch[:0]
	}
	a.mu.Unlock()
}

func (a *auditLog) writeAudit(txn *badger.Txn, recs []keyring.AuditRecord) error {
	for i := range recs {
		if err := setJSON(txn, auditDBKey(recs[i].Seq), &recs[i]); err != nil {
			return err
		}
	}
	last := recs[len(recs)-1]
	return setJSON(txn, []byte(auditHeadKey), signedHead(a.key, last.Seq, last.Hash))
}

// scan flushes and then calls fn on every stored record in order, with the
// stored head; found is false when there is no head record.
func (a *auditLog) scan(fn func(key []byte, r *keyring.AuditRecord) error) (head auditHead, found bool, err error) {
	head, found, _, err = a.scanWithIntegrity(fn)
	return head, found, err
}

// scanWithIntegrity is scan that also returns the integrity record read
// in the same snapshot (nil if there is none: a keyring of an older
// format).
func (a *auditLog) scanWithIntegrity(fn func(key []byte, r *keyring.AuditRecord) error) (head auditHead, found bool, integ *integrityRecord, err error) {
	if err := a.flush(); err != nil {
		return auditHead{}, false, nil, err
	}
	if a.testOnlyScanHook != nil {
		a.testOnlyScanHook()
	}
	err = a.db.View(func(txn *badger.Txn) error {
		if found, err = getJSON(txn, []byte(auditHeadKey), &head); err != nil {
			return err
		}
		var rec integrityRecord
		ok, err := getJSON(txn, []byte(integrityKey), &rec)
		if err != nil {
			return err
		}
		if ok {
			integ = &rec
		}
		return scanJSON(txn, auditPrefix, fn)
	})
	return head, found, integ, err
}

// verify walks the chain from the first record to the head. Records
// 1..n that verify are reported as such; the error names the first record
// not proven genuine.
func (a *auditLog) verify() (keyring.AuditStatus, error) {
	prev := make([]byte, auditHashSize)
	var seq uint64
	h := a.newHasher()
	head, found, integ, err := a.scanWithIntegrity(func(key []byte, r *keyring.AuditRecord) error {
		seq++
		if !bytes.Equal(key, auditDBKey(seq)) || r.Seq != seq {
			return &keyring.AuditError{Seq: seq, Reason: "record missing or out of order"}
		}
		if !hmac.Equal(h.hash(prev, r), r.Hash) {
			return &keyring.AuditError{Seq: seq, Reason: "hash mismatch"}
		}
		prev = r.Hash
		return nil
	})
	if err != nil {
		return keyring.AuditStatus{}, err
	}
	if err := a.checkHead(head, found, seq, prev); err != nil {
		return keyring.AuditStatus{}, err
	}
	if integ != nil && (integ.AuditSeq != seq || !hmac.Equal(integ.AuditHash, prev)) {
		// The integrity record (integrity.go) is written with every head:
		// a head moved back, with the records after it deleted, shows here.
		return keyring.AuditStatus{}, &keyring.AuditError{Seq: min(seq, integ.AuditSeq) + 1,
			Reason: fmt.Sprintf("the keyring's integrity record names record %d, the chain ends at %d: the newest records were cut", integ.AuditSeq, seq)}
	}
	return keyring.AuditStatus{Records: seq, Head: prev}, nil
}

// checkHead compares the head with the end of a chain that verified up to
// record seq with hash prev.
func (a *auditLog) checkHead(head auditHead, found bool, seq uint64, prev []byte) error {
	switch {
	case !found:
		return &keyring.AuditError{Seq: seq + 1, Reason: fmt.Sprintf("head record missing; records after %d may have been deleted", seq)}
	case !hmac.Equal(head.MAC, headMAC(a.key, &head)):
		return &keyring.AuditError{Seq: seq + 1, Reason: fmt.Sprintf("head record does not authenticate; records after %d may have been deleted", seq)}
	case head.Seq != seq:
		return &keyring.AuditError{Seq: min(head.Seq, seq) + 1, Reason: fmt.Sprintf("head names record %d, chain ends at %d", head.Seq, seq)}
	case !hmac.Equal(head.Hash, prev):
		return &keyring.AuditError{Seq: seq, Reason: "head does not match the newest record"}
	}
	return nil
}

// auditLocked records a state change synchronously.
func (k *Keyring) auditLocked(ctx context.Context, r keyring.AuditRecord, err error) {
	r.Caller, r.Outcome = keyring.CallerFrom(ctx), outcome(err)
	k.audit.appendSync(r)
}

// auditUse records a cryptographic operation asynchronously.
func (k *Keyring) auditUse(ctx context.Context, r keyring.AuditRecord, u keyUse, err error) {
	if u.id != ([16]byte{}) {
		r.KeyId, r.KeyVersion = u.kid, u.version
	}
	r.Caller, r.Outcome = keyring.CallerFrom(ctx), outcome(err)
	k.audit.append(r)
}

// Audit returns the audit records that match f, oldest first. With
// f.Newest and f.Limit, it returns the newest f.Limit of them. It scans
// without holding the keyring's lock, so a long listing delays no other
// operation.
func (k *Keyring) Audit(ctx context.Context, f keyring.AuditFilter) ([]keyring.AuditRecord, error) {
	k.auditReaders.RLock()
	defer k.auditReaders.RUnlock()
	keyID, err := k.auditKeyID(ctx, f.KeyId)
	if err != nil {
		return nil, err
	}
	out := []keyring.AuditRecord{}
	_, _, err = k.audit.scan(func(_ []byte, r *keyring.AuditRecord) error {
		if !auditMatches(&f, r, keyID) {
			return nil
		}
		out = append(out, *r)
		switch {
		case f.Limit <= 0:
		case !f.Newest && len(out) == f.Limit:
			return errStopScan
		case f.Newest && len(out) >= 2*f.Limit: // amortised O(1) per record
			out = slices.Delete(out, 0, len(out)-f.Limit)
		}
		return nil
	})
	if errors.Is(err, errStopScan) {
		err = nil
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, err
}

// auditKeyID resolves a filter's key to the UUID the records name; a key
// that no longer resolves (deleted) is matched as given. It checks that the
// keyring is open, holding k.mu only for the lookup.
func (k *Keyring) auditKeyID(ctx context.Context, keyID string) (string, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return "", keyring.ErrClosed
	}
	if e, err := k.lookup(ctx, keyID); err == nil {
		return e.rec.keyID(), nil
	}
	return keyID, nil
}

// checkOpen fails with ErrClosed once Close has begun.
func (k *Keyring) checkOpen() error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return keyring.ErrClosed
	}
	return nil
}

// errStopScan ends a scan early; it never leaves this file.
var errStopScan = errors.New("keyring: internal: stop scan")

func auditMatches(f *keyring.AuditFilter, r *keyring.AuditRecord, keyID string) bool {
	return (keyID == "" || r.KeyId == keyID || r.SourceKeyId == keyID) &&
		(f.Op == "" || r.Op == f.Op) &&
		(f.Since.IsZero() || !r.Time.Before(f.Since)) &&
		(f.Until.IsZero() || r.Time.Before(f.Until)) &&
		r.Seq > f.AfterSeq && (f.BeforeSeq == 0 || r.Seq < f.BeforeSeq)
}

// VerifyAudit checks the whole audit hash chain. A broken chain fails with
// an [*AuditError] (wrapping [keyring.ErrAuditBroken]) that names the first bad
// record.
func (k *Keyring) VerifyAudit(ctx context.Context) error {
	_, err := k.AuditStatus(ctx)
	return err
}

// AuditStatus verifies the audit chain as [Keyring.VerifyAudit] does and
// says how many records it holds and the newest record's hash, which a
// careful operator records elsewhere to detect a later rollback. Like
// [Keyring.Audit] it scans without holding the keyring's lock.
func (k *Keyring) AuditStatus(_ context.Context) (*keyring.AuditStatus, error) {
	k.auditReaders.RLock()
	defer k.auditReaders.RUnlock()
	if err := k.checkOpen(); err != nil {
		return nil, err
	}
	st, err := k.audit.verify()
	if err != nil {
		return nil, err
	}
	return &st, nil
}
