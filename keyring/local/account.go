package local

import (
	"crypto/hmac"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// The account.
//
// ARNs name the keyring's account. The account chosen when a keyring is
// created ([Options.Account], default [DefaultAccount]) is stored in
// "meta/account", MACed like key records (kind "account", id "account"), and
// used on every later Open. An Open with a different non-empty
// Options.Account changes the stored account (audited as SetAccount), so
// that `kmsfs serve --account-id` can set it once; an Open without one uses
// the stored account. A keyring older than this record opens with
// DefaultAccount (or Options.Account, which is then stored), as before.
//
// Changing the account changes every ARN; stored key policies and grants
// keep whatever ARNs they were written with, except keys that never had a
// policy, whose default policy names the current account.

const recordKindAccount = "account"

type accountRecord struct {
	Account string
	MAC     []byte `json:",omitempty"`
}

func accountMAC(macKey []byte, a *accountRecord) []byte {
	c := *a
	c.MAC = nil
	return recordMAC(macKey, recordKindAccount, recordKindAccount, canonicalJSON(&c))
}

func putAccount(txn *badger.Txn, macKey []byte, account string) error {
	a := accountRecord{Account: account}
	a.MAC = accountMAC(macKey, &a)
	return setJSON(txn, []byte(accountKey), &a)
}

// validAccount accepts the 12 decimal digits of an AWS account ID.
func validAccount(s string) error {
	if len(s) != 12 {
		return fmt.Errorf("%w: account %q is not 12 digits", keyring.ErrValidation, truncate(s))
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: account %q is not 12 digits", keyring.ErrValidation, truncate(s))
		}
	}
	return nil
}

// readAccount reads "meta/account", checking its MAC with checkMACs (a
// keyring of an older format gets its MACs in the upgrade that follows,
// which rewrites this record too). The caller is load.
func (k *Keyring) readAccount(txn *badger.Txn, checkMACs bool) error {
	var rec accountRecord
	found, err := getJSON(txn, []byte(accountKey), &rec)
	if err != nil || !found {
		return err
	}
	if validAccount(rec.Account) != nil || checkMACs && !hmac.Equal(rec.MAC, accountMAC(k.recMAC, &rec)) {
		return corrupt("the account record does not authenticate")
	}
	k.opts.Account, k.accountStored = rec.Account, true
	return nil
}

// settleAccount applies the caller's Options.Account (explicit, "" if
// none) once the keyring is loaded, and stores the account of a keyring
// created now. It returns the audit operation to record ("SetAccount") or
// "". The caller is Open.
func (k *Keyring) settleAccount(explicit string, created bool) (op string, err error) {
	switch {
	case explicit == "" && !created:
		return "", nil
	case explicit == "":
		explicit = DefaultAccount
	case k.accountStored && explicit == k.opts.Account:
		return "", nil
	}
	if err := k.db.Update(func(txn *badger.Txn) error { return putAccount(txn, k.recMAC, explicit) }); err != nil {
		return "", fmt.Errorf("keyring: writing the account: %w", err)
	}
	k.opts.Account, k.accountStored = explicit, true
	if created {
		return "", nil
	}
	return "SetAccount", nil
}

// Account returns the account that ARNs name.
func (k *Keyring) Account() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.opts.Account
}

// rootARN is the account root principal, arn:aws:iam::<account>:root.
func (k *Keyring) rootARN() string {
	return "arn:aws:iam::" + k.opts.Account + ":root"
}

// auditAccount records an account change made by Open.
func (k *Keyring) auditAccount(op string) {
	if op != "" {
		k.audit.appendSync(keyring.AuditRecord{Op: op, KeyId: k.opts.Account, Outcome: outcomeSuccess})
	}
}
