package policy

import (
	"strings"

	"github.com/kmsfs/kmsfs/keyring"
)

// Decision is the outcome of evaluating a key policy.
type Decision uint8

// Decisions. The zero value is ImplicitDeny, so a Decision that was never
// set refuses.
const (
	// ImplicitDeny: no statement allows the request (and none denies it).
	ImplicitDeny Decision = iota
	// Allow: an Allow statement matches and no Deny statement does.
	Allow
	// ExplicitDeny: a Deny statement matches; nothing can override it.
	ExplicitDeny
)

// String returns the decision's name, as in logs and test failures.
func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// Evaluate decides r against the policy alone (grants are the
// [Authorizer]'s business): an explicit Deny beats an Allow, which beats the
// implicit deny of a request no statement mentions.
func (p *Policy) Evaluate(r *keyring.AuthzRequest) Decision {
	if p == nil || r == nil {
		return ImplicitDeny
	}
	d := ImplicitDeny
	for i := range p.statements {
		s := &p.statements[i]
		if !s.applies(r) {
			continue
		}
		if s.deny {
			return ExplicitDeny
		}
		d = Allow
	}
	return d
}

func (s *statement) applies(r *keyring.AuthzRequest) bool {
	if s.principals.matches(r.Principal) == s.notPrincipal {
		return false
	}
	if matchAny(s.actions, r.Action, true) == s.notAction {
		return false
	}
	if matchAny(s.resources, r.KeyARN, false) == s.notResource {
		return false
	}
	for i := range s.conditions {
		if !s.conditions[i].holds(r) {
			return false
		}
	}
	return true
}

func matchAny(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if p == "*" || glob(p, s, fold) {
			return true
		}
	}
	return false
}

// matches reports whether the caller is one of the set's principals. An
// account (root ARN or bare id) admits every principal of that account:
// in AWS it delegates to the account's IAM policies, and kmsfs has no IAM,
// so every authenticated principal of the account is treated as allowed
// by its IAM policies.
func (ps *principalSet) matches(c keyring.Principal) bool {
	if ps.anyone {
		return true
	}
	if c.ARN == "" {
		return false
	}
	for _, a := range ps.arns {
		if a == c.ARN {
			return true
		}
	}
	acct := principalAccount(c)
	for _, a := range ps.accounts {
		if a == acct {
			return true
		}
	}
	return false
}

// principalAccount is the caller's account: Principal.Account, or the
// account field of its ARN when a transport left Account empty.
func principalAccount(c keyring.Principal) string {
	if c.Account != "" {
		return c.Account
	}
	return arnAccount(c.ARN)
}

// arnAccount returns the account field (the fifth) of an ARN, or "".
func arnAccount(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	rest := arn
	for range 4 { // skip arn, partition, service and region
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	acct, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return acct
}
