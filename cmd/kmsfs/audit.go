package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "list the keyring's audit log, or verify its chain",
		UsageText: `kmsfs audit [--key KEY] [--since T] [--op OP] [--limit N] [--json]
kmsfs audit verify [--json]

Every key operation is recorded: time, operation, key and version, encryption
context keys (never values), caller, outcome and count. UnwrapDEK calls (one per
file open) are aggregated into one record per key version, caller and outcome per
second, whose count says how many calls it stands for. --json prints CloudTrail-like
records. T is RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or an age
(36h, 7d). --limit N keeps the newest N matching records.

"kmsfs audit verify" checks the HMAC chain and exits 6 naming the first bad record.

Example: kmsfs audit --key alias/kmsfs --since 24h`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "only records of `KEY` (any key ID form)"},
			&cli.StringFlag{Name: "since", Usage: "only records at or after `T`"},
			&cli.StringFlag{Name: "op", Usage: "only records of operation `OP`, e.g. Decrypt"},
			&cli.IntFlag{Name: "limit", Usage: "only the newest `N` matching records"},
			&cli.BoolFlag{Name: "json", Usage: "print CloudTrail-like JSON records"},
		},
		Action: auditAction(auditList),
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "check the audit log's HMAC chain; exit 6 if it is broken",
			UsageText: "kmsfs audit verify [--json]\n\nExample: kmsfs audit verify",
			Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}},
			Action:    auditAction(auditVerify),
		}},
	}
}

// auditAction opens the keyring service (through a mount's socket when
// there is one) and runs f on its audit log.
func auditAction(f func(c *cli.Context, a keyring.Auditor) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := needArgs(c, 0); err != nil {
			return err
		}
		svc, err := openService(c, false)
		if err != nil {
			return err
		}
		defer svc.Close()
		a, ok := svc.Service.(keyring.Auditor)
		if !ok {
			return fmt.Errorf("%w: this keyring service has no audit log", keyring.ErrUnsupported)
		}
		return f(c, a)
	}
}

func auditList(c *cli.Context, a keyring.Auditor) error {
	f, err := auditFilter(c, time.Now())
	if err != nil {
		return err
	}
	recs, err := a.Audit(c.Context, f)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printResult(c, trailOf(recs), "")
	}
	return printResult(c, nil, auditText(recs))
}

func auditFilter(c *cli.Context, now time.Time) (keyring.AuditFilter, error) {
	f := keyring.AuditFilter{KeyId: c.String("key"), Op: c.String("op"), Limit: c.Int("limit"), Newest: true}
	if f.Limit < 0 {
		return f, usageError{"--limit must be positive"}
	}
	if s := c.String("since"); s != "" {
		t, err := parseSince(s, now)
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	return f, nil
}

// parseSince accepts an RFC 3339 time, a date, or an age (Go duration or
// whole days, "7d") counted back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError{fmt.Sprintf("--since %q: want RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or an age (36h, 7d)", s)}
}

// auditText renders records as aligned columns.
func auditText(recs []keyring.AuditRecord) string {
	if len(recs) == 0 {
		return "no audit records match"
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tTIME\tOPERATION\tKEY\tVERSION\tCONTEXT KEYS\tCALLER\tOUTCOME\tCOUNT")
	for _, r := range recs {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Seq, r.Time.UTC().Format(time.RFC3339), r.Op,
			orDash(auditKey(r)), orDash(versionText(r.KeyVersion)), orDash(strings.Join(r.ContextKeys, ",")),
			orDash(r.Caller), r.Outcome, r.Count)
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func auditKey(r keyring.AuditRecord) string {
	s := r.KeyId
	if r.SourceKeyId != "" {
		s = r.SourceKeyId + "->" + s
	}
	if r.Alias != "" {
		s = strings.TrimPrefix(r.Alias+" "+s, " ")
	}
	return strings.TrimSpace(s)
}

func versionText(v uint32) string {
	if v == 0 {
		return ""
	}
	return "v" + strconv.FormatUint(uint64(v), 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func auditVerify(c *cli.Context, a keyring.Auditor) error {
	st, err := a.AuditStatus(c.Context)
	var ae *keyring.AuditError
	if errors.As(err, &ae) {
		return integrityExit{err}
	}
	if err != nil {
		return err
	}
	result := struct {
		Intact  bool
		Records uint64
		Head    string
	}{true, st.Records, hex.EncodeToString(st.Head)}
	return printResult(c, result, fmt.Sprintf("audit log intact: %d records", st.Records))
}

// integrityExit makes an error exit with exitIntegrity, like other
// authentication failures: a broken audit chain is tampered data.
type integrityExit struct{ error }

func (e integrityExit) ExitCode() int { return exitIntegrity }
func (e integrityExit) Unwrap() error { return e.error }

// CloudTrail-like JSON (the CloudTrail log file format, AWS CloudTrail User
// Guide, "CloudTrail record contents"): the shape of a CloudTrail
// log file, {"Records": [event, ...]}, with kmsfs's own event source.
// Fields CloudTrail has and kmsfs does not know (source IP, request and
// event IDs from AWS) are left out; kmsfs's own facts (sequence number,
// aggregation count, chain hash, key version, context keys) go in
// additionalEventData and requestParameters.
const (
	trailEventVersion = "1.08"
	trailEventSource  = "kmsfs.local"
	trailKeyType      = "AWS::KMS::Key"
)

type trailLog struct {
	Records []trailEvent
}

type trailEvent struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        trailIdentity  `json:"userIdentity"`
	EventTime           string         `json:"eventTime"`
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    any            `json:"responseElements"`
	AdditionalEventData trailExtra     `json:"additionalEventData"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []trailARN     `json:"resources,omitempty"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	EventCategory       string         `json:"eventCategory"`
}

type trailIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	AccountID   string `json:"accountId"`
}

type trailExtra struct {
	Seq   uint64 `json:"seq"`
	Count uint64 `json:"count"`
	Hash  string `json:"hash"`
}

type trailARN struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
}

// readOnlyOp reports the operations CloudTrail marks readOnly: they use
// keys without changing them.
func readOnlyOp(op string) bool {
	switch op {
	case "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "WrapDEK", "UnwrapDEK":
		return true
	}
	return false
}

func trailOf(recs []keyring.AuditRecord) trailLog {
	out := trailLog{Records: make([]trailEvent, 0, len(recs))}
	for _, r := range recs {
		out.Records = append(out.Records, trailEventOf(r))
	}
	return out
}

func trailEventOf(r keyring.AuditRecord) trailEvent {
	e := trailEvent{
		EventVersion: trailEventVersion, UserIdentity: trailIdentityOf(r.Caller),
		EventTime: r.Time.UTC().Format(time.RFC3339), EventSource: trailEventSource, EventName: r.Op,
		AWSRegion: local.DefaultRegion, RequestParameters: trailParams(r),
		AdditionalEventData: trailExtra{Seq: r.Seq, Count: r.Count, Hash: hex.EncodeToString(r.Hash)},
		EventID:             r.EventID(), ReadOnly: readOnlyOp(r.Op), EventType: "AwsApiCall",
		ManagementEvent: true, RecipientAccountID: local.DefaultAccount, EventCategory: "Management",
	}
	if r.Outcome != "Success" {
		e.ErrorCode = r.Outcome
	}
	for _, id := range []string{r.SourceKeyId, r.KeyId} { // source first, as CloudTrail's ReEncrypt
		if id != "" {
			e.Resources = append(e.Resources, trailARN{ARN: trailKeyARN(id), AccountID: local.DefaultAccount, Type: trailKeyType})
		}
	}
	return e
}

func trailIdentityOf(caller string) trailIdentity {
	id := trailIdentity{Type: "UnixUser", PrincipalID: caller, AccountID: local.DefaultAccount}
	switch {
	case caller == "":
		id.Type, id.PrincipalID = "Local", "kmsfs" // in the process that holds the keyring
	case strings.HasPrefix(caller, "addr:"):
		id.Type = "Network"
	case strings.HasPrefix(caller, "arn:aws:iam::"):
		id = trailIAMIdentity(caller)
	}
	return id
}

// trailIAMIdentity describes a principal authenticated by SigV4 as
// CloudTrail does: IAMUser, AssumedRole (kmsfs roles are keys acting as
// the role) or Root, with the account from its ARN.
func trailIAMIdentity(arn string) trailIdentity {
	account, resource, _ := strings.Cut(strings.TrimPrefix(arn, "arn:aws:iam::"), ":")
	id := trailIdentity{Type: "IAMUser", PrincipalID: arn, AccountID: account}
	switch {
	case resource == "root":
		id.Type = "Root"
	case strings.HasPrefix(resource, "role/"):
		id.Type = "AssumedRole"
	}
	return id
}

func trailParams(r keyring.AuditRecord) map[string]any {
	p := map[string]any{}
	if r.KeyId != "" {
		p["keyId"] = r.KeyId
	}
	if r.KeyVersion != 0 {
		p["keyVersion"] = r.KeyVersion
	}
	if r.SourceKeyId != "" {
		p["sourceKeyId"] = r.SourceKeyId
	}
	if r.Alias != "" {
		p["aliasName"] = r.Alias
	}
	if len(r.ContextKeys) > 0 {
		p["encryptionContextKeys"] = r.ContextKeys
	}
	return p
}

// trailKeyARN turns a recorded key ID into an ARN, leaving one that is not
// a bare key ID (a caller's unresolved input) as it was.
func trailKeyARN(id string) string {
	if len(id) == 36 && strings.Count(id, "-") == 4 {
		return "arn:aws:kms:" + local.DefaultRegion + ":" + local.DefaultAccount + ":key/" + id
	}
	return id
}
