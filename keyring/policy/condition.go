package policy

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kmsfs/kmsfs/keyring"
)

// opKind is the comparison a condition operator makes, before negation.
type opKind uint8

const (
	opStringEquals opKind = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opBool
	opNull
	opArnLike // ArnEquals and ArnLike both allow wildcards in IAM
	opIPAddress
)

type setKind uint8

const (
	setNone setKind = iota
	setAnyValue
	setAllValues
)

var operators = map[string]struct {
	kind    opKind
	negated bool
}{
	"stringequals":              {opStringEquals, false},
	"stringnotequals":           {opStringEquals, true},
	"stringequalsignorecase":    {opStringEqualsIgnoreCase, false},
	"stringnotequalsignorecase": {opStringEqualsIgnoreCase, true},
	"stringlike":                {opStringLike, false},
	"stringnotlike":             {opStringLike, true},
	"numericequals":             {opNumericEquals, false},
	"numericnotequals":          {opNumericEquals, true},
	"numericlessthan":           {opNumericLessThan, false},
	"numericlessthanequals":     {opNumericLessThanEquals, false},
	"numericgreaterthan":        {opNumericGreaterThan, false},
	"numericgreaterthanequals":  {opNumericGreaterThanEquals, false},
	"bool":                      {opBool, false},
	"null":                      {opNull, false},
	"arnequals":                 {opArnLike, false},
	"arnlike":                   {opArnLike, false},
	"arnnotequals":              {opArnLike, true},
	"arnnotlike":                {opArnLike, true},
	"ipaddress":                 {opIPAddress, false},
	"notipaddress":              {opIPAddress, true},
}

// condition is one (operator, key, values) triple of a Condition block.
type condition struct {
	kind     opKind
	negated  bool
	set      setKind
	ifExists bool
	key      string // lower case: condition keys are case-insensitive
	ctxKey   string // for kms:EncryptionContext:<k>, the <k> part
	values   []string
	nums     []float64
	prefixes []netip.Prefix
}

func parseOperator(name string) (condition, error) {
	var c condition
	rest := name
	if p, ok := cutPrefixFold(rest, "ForAnyValue:"); ok {
		c.set, rest = setAnyValue, p
	} else if p, ok := cutPrefixFold(rest, "ForAllValues:"); ok {
		c.set, rest = setAllValues, p
	}
	lower := strings.ToLower(rest)
	if b, ok := strings.CutSuffix(lower, "ifexists"); ok && lower != "null" {
		c.ifExists, lower = true, b
	}
	op, ok := operators[lower]
	if !ok || (op.kind == opNull && (c.ifExists || c.set != setNone)) {
		return c, malformed("unknown condition operator %q", name)
	}
	c.kind, c.negated = op.kind, op.negated
	return c, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

const ecPrefix = "kms:encryptioncontext:"

func (c *condition) setKey(key string) error {
	if key == "" || !strings.Contains(key, ":") {
		return errors.New("condition key " + strconv.Quote(key) + " is not service:name")
	}
	c.key = strings.ToLower(key)
	if strings.HasPrefix(c.key, ecPrefix) {
		c.key, c.ctxKey = ecPrefix, key[len(ecPrefix):]
	}
	return nil
}

func (c *condition) setValues(raw json.RawMessage) error {
	vals, err := conditionValues(raw)
	if err != nil {
		return err
	}
	c.values = vals
	switch c.kind {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		c.nums = make([]float64, len(vals))
		for i, v := range vals {
			if c.nums[i], err = strconv.ParseFloat(v, 64); err != nil {
				return errors.New("value " + strconv.Quote(v) + " is not a number")
			}
		}
	case opIPAddress:
		c.prefixes = make([]netip.Prefix, len(vals))
		for i, v := range vals {
			if c.prefixes[i], err = parseIPOrPrefix(v); err != nil {
				return errors.New("value " + strconv.Quote(v) + " is not an IP address or CIDR block")
			}
		}
	case opBool, opNull:
		for _, v := range vals {
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return errors.New("value " + strconv.Quote(v) + ` is not "true" or "false"`)
			}
		}
	}
	return nil
}

// lookup appends the request's values for the condition's key to buf. No
// value means the key is absent from the request context.
func (c *condition) lookup(r *keyring.AuthzRequest, buf []string) []string {
	one := func(v string) []string {
		if v == "" {
			return buf
		}
		return append(buf, v)
	}
	switch c.key {
	case ecPrefix:
		// The key named in kms:EncryptionContext:<key> is matched without
		// regard to case, as AWS documents for this condition key; values
		// keep their case. Use kms:EncryptionContextKeys for exact keys.
		for k, v := range r.EncryptionContext {
			if strings.EqualFold(k, c.ctxKey) {
				buf = append(buf, v)
			}
		}
		return buf
	case "kms:encryptioncontextkeys":
		for k := range r.EncryptionContext {
			buf = append(buf, k)
		}
		return buf
	case "kms:calleraccount", "aws:principalaccount":
		return one(principalAccount(r.Principal))
	case "kms:viaservice":
		return one(r.ViaService)
	case "kms:requestalias":
		return one(r.RequestAlias)
	case "kms:keyspec":
		return one(r.KeySpec)
	case "kms:keyusage":
		return one(r.KeyUsage)
	case "kms:grantisforawsresource":
		// Only AWS services integrated with KMS set it; kmsfs has none.
		return one("false")
	case "aws:username":
		return one(r.Principal.UserName)
	case "aws:sourceip":
		return one(r.Principal.SourceIP)
	case "aws:principalarn":
		return one(r.Principal.ARN)
	}
	return buf
}

// holds reports whether the condition is satisfied by r. Missing keys
// follow IAM: the condition is false, except that ...IfExists and
// ForAllValues are then true, Null tests for absence, and a negated
// operator (StringNotEquals, ArnNotLike, NotIpAddress, ...) is true.
func (c *condition) holds(r *keyring.AuthzRequest) bool {
	var buf [4]string
	vals := c.lookup(r, buf[:0])
	if c.kind == opNull {
		want := len(vals) == 0
		for _, p := range c.values {
			if strings.EqualFold(p, "true") == want {
				return true
			}
		}
		return false
	}
	if len(vals) == 0 {
		switch {
		case c.ifExists, c.set == setAllValues:
			return true
		case c.set == setAnyValue:
			return false
		}
		return c.negated
	}
	switch c.set {
	case setAllValues:
		for _, v := range vals {
			if c.matchesAny(v) == c.negated {
				return false
			}
		}
		return true
	case setAnyValue:
		for _, v := range vals {
			if c.matchesAny(v) != c.negated {
				return true
			}
		}
		return false
	}
	// No set operator: a positive operator needs one matching pair; a
	// negated one needs no request value to match any policy value.
	for _, v := range vals {
		if c.matchesAny(v) {
			return !c.negated
		}
	}
	return c.negated
}

// matchesAny reports whether request value v matches one of the policy's
// values under the positive form of the operator.
func (c *condition) matchesAny(v string) bool {
	switch c.kind {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		return c.numeric(v)
	case opIPAddress:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range c.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	for _, p := range c.values {
		switch c.kind {
		case opStringEquals:
			if v == p {
				return true
			}
		case opStringEqualsIgnoreCase, opBool:
			if strings.EqualFold(v, p) {
				return true
			}
		case opStringLike:
			if glob(p, v, false) {
				return true
			}
		case opArnLike:
			if arnGlob(p, v) {
				return true
			}
		}
	}
	return false
}

func (c *condition) numeric(v string) bool {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return false
	}
	for _, n := range c.nums {
		var ok bool
		switch c.kind {
		case opNumericEquals:
			ok = x == n
		case opNumericLessThan:
			ok = x < n
		case opNumericLessThanEquals:
			ok = x <= n
		case opNumericGreaterThan:
			ok = x > n
		case opNumericGreaterThanEquals:
			ok = x >= n
		}
		if ok {
			return true
		}
	}
	return false
}

// glob matches s against pattern, where * matches any run of characters and
// ? any one character, as IAM's *Like operators, actions and resources do.
// It runs in O(len(pattern)*len(s)) at worst, so attacker-chosen patterns
// cannot make it explode.
func glob(pattern, s string, fold bool) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			starP, starI = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i] || (fold && lowerByte(pattern[p]) == lowerByte(s[i]))):
			p++
			i++
		case starP >= 0:
			starI++
			p, i = starP+1, starI
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// arnGlob matches an ARN as IAM's Arn* operators do: each of the six
// colon-separated fields separately, so a wildcard never spans a colon
// (the sixth field, the resource, may itself contain colons).
func arnGlob(pattern, arn string) bool {
	for range 5 {
		pf, prest, ok1 := strings.Cut(pattern, ":")
		af, arest, ok2 := strings.Cut(arn, ":")
		if !ok1 || !ok2 || !glob(pf, af, false) {
			return false
		}
		pattern, arn = prest, arest
	}
	return glob(pattern, arn, false)
}

func lowerByte(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
