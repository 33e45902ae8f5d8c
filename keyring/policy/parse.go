package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/kmsfs/kmsfs/keyring"
)

// ErrMalformedPolicy is a key policy document that is not valid JSON or
// breaks the policy grammar. It wraps [keyring.ErrMalformedPolicy], so that
// it reaches clients as AWS's MalformedPolicyDocumentException.
var ErrMalformedPolicy error = malformedPolicy{}

type malformedPolicy struct{}

func (malformedPolicy) Error() string { return "policy: malformed policy document" }
func (malformedPolicy) Unwrap() error { return keyring.ErrMalformedPolicy }

// MaxPolicySize is the largest key policy AWS KMS accepts: 32 KiB
// (the "Key policy document size" quota in the AWS KMS Developer Guide).
const MaxPolicySize = 32 * 1024

// Policy versions of the IAM policy grammar. A document without a Version
// is read as VersionLegacy, as IAM does.
const (
	Version       = "2012-10-17"
	VersionLegacy = "2008-10-17"
)

// Policy is a parsed, validated key policy. It is immutable, so one Policy
// may be evaluated by many goroutines at once.
type Policy struct {
	version    string
	id         string
	statements []statement
}

type statement struct {
	sid          string
	deny         bool
	notPrincipal bool
	principals   principalSet
	notAction    bool
	actions      []string // lower case: IAM matches actions case-insensitively
	notResource  bool
	resources    []string
	conditions   []condition
}

// principalSet is what a Principal or NotPrincipal element names.
type principalSet struct {
	anyone   bool
	arns     []string // user, role and other principal ARNs, matched exactly
	accounts []string // 12-digit accounts named by root ARN or bare id
	// Service, Federated and CanonicalUser principals parse but never match
	// a kmsfs caller, which is always an IAM-style user, role or root.
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedPolicy}, args...)...)
}

// Parse validates doc as a key policy, the way AWS KMS does at CreateKey
// and PutKeyPolicy, and returns it ready to evaluate. Every error wraps
// [ErrMalformedPolicy] and says which statement and member is wrong.
func Parse(doc []byte) (*Policy, error) {
	if len(doc) > MaxPolicySize {
		return nil, malformed("policy is %d bytes, more than the %d-byte limit", len(doc), MaxPolicySize)
	}
	top, err := object(doc, "policy")
	if err != nil {
		return nil, err
	}
	if err := noDuplicates(doc); err != nil {
		return nil, err
	}
	p := &Policy{version: VersionLegacy}
	for name, raw := range top {
		switch name {
		case "Version":
			if err := json.Unmarshal(raw, &p.version); err != nil || (p.version != Version && p.version != VersionLegacy) {
				return nil, malformed("Version must be %q or %q", Version, VersionLegacy)
			}
		case "Id":
			if err := json.Unmarshal(raw, &p.id); err != nil {
				return nil, malformed("Id must be a string")
			}
		case "Statement":
		default:
			return nil, malformed("unknown policy member %q", name)
		}
	}
	raws, err := oneOrMany(top["Statement"])
	if err != nil || len(raws) == 0 {
		return nil, malformed("Statement must be a statement object or a non-empty array of them")
	}
	p.statements = make([]statement, len(raws))
	for i, raw := range raws {
		if err := p.statements[i].parse(raw); err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
	}
	return p, nil
}

// object decodes one JSON object into its raw members. It refuses trailing
// data, which encoding/json's Unmarshal already does.
func object(raw []byte, what string) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, malformed("%s must be a JSON object", what)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformed("%s is not valid JSON: %v", what, err) // %v: the JSON error is detail, not a class
	}
	return m, nil
}

// oneOrMany reads a member that IAM allows as one value or an array.
func oneOrMany(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, errors.New("missing")
	}
	if raw[0] != '[' {
		return []json.RawMessage{raw}, nil
	}
	var many []json.RawMessage
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, err
	}
	return many, nil
}

// strings1 reads a string or a non-empty array of strings.
func strings1(raw json.RawMessage) ([]string, bool) {
	items, err := oneOrMany(raw)
	if err != nil || len(items) == 0 {
		return nil, false
	}
	out := make([]string, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i]); err != nil || (len(it) > 0 && it[0] != '"') {
			return nil, false
		}
	}
	return out, true
}

func (s *statement) parse(raw json.RawMessage) error {
	m, err := object(raw, "statement")
	if err != nil {
		return err
	}
	for name := range m {
		switch name {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			return malformed("unknown statement member %q", name)
		}
	}
	if raw, ok := m["Sid"]; ok {
		if err := json.Unmarshal(raw, &s.sid); err != nil {
			return malformed("Sid must be a string")
		}
	}
	var effect string
	if err := json.Unmarshal(m["Effect"], &effect); err != nil || (effect != "Allow" && effect != "Deny") {
		return malformed(`Effect must be "Allow" or "Deny"`)
	}
	s.deny = effect == "Deny"
	if err := s.parsePrincipal(m); err != nil {
		return err
	}
	if err := s.parseActions(m); err != nil {
		return err
	}
	if err := s.parseResources(m); err != nil {
		return err
	}
	if raw, ok := m["Condition"]; ok {
		if s.conditions, err = parseConditions(raw); err != nil {
			return err
		}
	}
	return nil
}

// exactlyOne returns the member of the pair that is present, and whether
// it is the negated one; AWS requires exactly one of each pair.
func exactlyOne(m map[string]json.RawMessage, pos, neg string) (json.RawMessage, bool, error) {
	p, hasP := m[pos]
	n, hasN := m[neg]
	switch {
	case hasP && hasN:
		return nil, false, malformed("statement has both %s and %s", pos, neg)
	case hasP:
		return p, false, nil
	case hasN:
		return n, true, nil
	}
	return nil, false, malformed("statement has neither %s nor %s", pos, neg)
}

func (s *statement) parsePrincipal(m map[string]json.RawMessage) error {
	raw, neg, err := exactlyOne(m, "Principal", "NotPrincipal")
	if err != nil {
		return err
	}
	s.notPrincipal = neg
	name := "Principal"
	if neg {
		name = "NotPrincipal"
	}
	raw = bytes.TrimSpace(raw)
	var star string
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &star) != nil || star != "*" {
			return malformed(`%s must be "*" or an object such as {"AWS": ...}`, name)
		}
		s.principals.anyone = true
		return nil
	}
	kinds, err := object(raw, name)
	if err != nil {
		return err
	}
	if len(kinds) == 0 {
		return malformed("%s names no principal", name)
	}
	for kind, v := range kinds {
		ids, ok := strings1(v)
		if !ok {
			return malformed("%s %s must be a string or a non-empty array of strings", name, kind)
		}
		switch kind {
		case "AWS":
			for _, id := range ids {
				if err := s.principals.addAWS(id); err != nil {
					return malformed("%s: %v", name, err)
				}
			}
		case "Service", "Federated", "CanonicalUser":
			for _, id := range ids {
				if id == "" {
					return malformed("%s %s has an empty principal", name, kind)
				}
			}
		default:
			return malformed("%s has unknown principal type %q", name, kind)
		}
	}
	return nil
}

var (
	accountRE      = regexp.MustCompile(`^[0-9]{12}$`)
	principalARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:(iam|sts)::([0-9]{12}):(root|(user|role|assumed-role|federated-user|group)/[\x21-\x29\x2b-\x3e\x40-\x7e]+)$`)
)

// addAWS adds one {"AWS": ...} value. Wildcards other than a lone "*" are
// refused, as IAM refuses them in a Principal. AWS KMS rejects a key policy whose
// principals it cannot resolve ("Policy contains a statement with one or
// more invalid principals"); kmsfs has no IAM to ask, so it checks form only.
func (ps *principalSet) addAWS(id string) error {
	switch {
	case id == "*":
		ps.anyone = true
	case accountRE.MatchString(id):
		ps.accounts = append(ps.accounts, id)
	default:
		sm := principalARNRE.FindStringSubmatch(id)
		if sm == nil {
			return fmt.Errorf("invalid principal %q", id)
		}
		if sm[3] == "root" {
			ps.accounts = append(ps.accounts, sm[2])
		} else {
			ps.arns = append(ps.arns, id)
		}
	}
	return nil
}

var actionRE = regexp.MustCompile(`^([a-zA-Z0-9-]+:[a-zA-Z0-9*?]+|\*)$`)

func (s *statement) parseActions(m map[string]json.RawMessage) error {
	raw, neg, err := exactlyOne(m, "Action", "NotAction")
	if err != nil {
		return err
	}
	s.notAction = neg
	acts, ok := strings1(raw)
	if !ok {
		return malformed("Action must be a string or a non-empty array of strings")
	}
	for i, a := range acts {
		if !actionRE.MatchString(a) {
			return malformed("invalid action %q", a)
		}
		acts[i] = strings.ToLower(a)
	}
	s.actions = acts
	return nil
}

func (s *statement) parseResources(m map[string]json.RawMessage) error {
	raw, neg, err := exactlyOne(m, "Resource", "NotResource")
	if err != nil {
		return err
	}
	s.notResource = neg
	res, ok := strings1(raw)
	if !ok {
		return malformed("Resource must be a string or a non-empty array of strings")
	}
	for _, r := range res {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return malformed(`invalid resource %q: want "*" or an ARN`, r)
		}
	}
	s.resources = res
	return nil
}

// parseConditions reads {"Operator": {"key": value-or-values, ...}, ...}.
func parseConditions(raw json.RawMessage) ([]condition, error) {
	ops, err := object(raw, "Condition")
	if err != nil {
		return nil, err
	}
	var out []condition
	for opName, body := range ops {
		base, err := parseOperator(opName)
		if err != nil {
			return nil, err
		}
		keys, err := object(body, "Condition "+opName)
		if err != nil {
			return nil, err
		}
		for key, vraw := range keys {
			c := base
			if err := c.setKey(key); err != nil {
				return nil, malformed("Condition %s: %v", opName, err)
			}
			if err := c.setValues(vraw); err != nil {
				return nil, malformed("Condition %s %s: %v", opName, key, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionValues reads a condition's values: a string, number or boolean,
// or an array of them; IAM compares them all as strings.
func conditionValues(raw json.RawMessage) ([]string, error) {
	items, err := oneOrMany(raw)
	if err != nil || len(items) == 0 {
		return nil, errors.New("needs a value or a non-empty array of values")
	}
	out := make([]string, len(items))
	for i, it := range items {
		var v any
		d := json.NewDecoder(bytes.NewReader(it))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, errors.New("invalid value")
		}
		switch v := v.(type) {
		case string:
			out[i] = v
		case json.Number:
			out[i] = v.String()
		case bool:
			out[i] = strconv.FormatBool(v)
		default:
			return nil, errors.New("values must be strings, numbers or booleans")
		}
	}
	return out, nil
}

func parseIPOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// noDuplicates refuses a document in which an object repeats a member
// name. encoding/json would keep the last one silently, so a reviewer
// reading the first "Effect" could be shown a different policy from the
// one enforced. doc is already known to be valid JSON.
func noDuplicates(doc []byte) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		object  bool
		seen    map[string]bool
		wantKey bool
	}
	var stack []frame
	for {
		tok, err := d.Token()
		if err != nil {
			return nil // io.EOF; syntax errors were reported by object
		}
		top := len(stack) - 1
		if delim, ok := tok.(json.Delim); ok {
			switch delim {
			case '{', '[':
				if top >= 0 && stack[top].object {
					stack[top].wantKey = true
				}
				stack = append(stack, frame{object: delim == '{', seen: map[string]bool{}, wantKey: true})
			default:
				stack = stack[:top]
			}
			continue
		}
		if top < 0 || !stack[top].object {
			continue
		}
		if stack[top].wantKey {
			name, _ := tok.(string)
			if stack[top].seen[name] {
				return malformed("duplicate member %q", name)
			}
			stack[top].seen[name] = true
			stack[top].wantKey = false
		} else {
			stack[top].wantKey = true
		}
	}
}
