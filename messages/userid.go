package messages

import (
	"strings"
)

// Limits on a userPrincipalName, following Microsoft Entra ID.
const (
	// MaxUPNLength is the longest userPrincipalName accepted, in characters.
	MaxUPNLength = 113
	// MaxUPNLocalLength is the longest local part (before the @) accepted.
	MaxUPNLocalLength = 64
	// maxDNSLabel is the longest DNS label (RFC 1035).
	maxDNSLabel = 63
)

// nilGUID is the all-zero GUID, which never names a directory object.
const nilGUID = "00000000-0000-0000-0000-000000000000"

// ValidateUserID checks an object id (canonical GUID, not nil) or a
// userPrincipalName against Entra's rules; failures are *InvalidError.
//
// A GUID is 8-4-4-4-12 hexadecimal digits in either case. A userPrincipalName
// is local@domain where the local part holds ASCII letters, digits and
// ' . - _ ! # ^ ~ (and may begin with $), has no leading, trailing or doubled
// dot and is at most 64 characters; the domain is at least two DNS labels of
// letters, digits and inner hyphens whose last label is not all digits; the
// whole name is at most 113 characters. The B2B guest form
// alice_contoso.com#EXT#@fabrikam.onmicrosoft.com satisfies these rules.
//
// Everything else is rejected, in particular whitespace, control characters,
// non-ASCII characters, and any of / ? % \ : ( ) that could steer a Graph URL.
// The returned error never echoes any of id.
//
// A valid id is safe to place in a URL path segment only after escaping:
// # must be percent-encoded (%23), and inside the /users('...') key form that
// Graph requires for a UPN beginning with $, an apostrophe must be doubled.
func ValidateUserID(id string) error {
	if problem := userIDProblem(id); problem != "" {
		return &InvalidError{Field: FieldUserID, Problem: problem}
	}
	return nil
}

// userIDProblem returns "" when id is valid, else a sentence saying why not.
func userIDProblem(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > MaxUPNLength {
		return "is longer than 113 characters"
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < 0x20 || c == 0x7f {
			return "contains a control character"
		}
		if c >= 0x80 {
			return "contains a non-ASCII character"
		}
		if c == ' ' {
			return "contains whitespace"
		}
	}
	if looksLikeGUID(id) {
		if strings.EqualFold(id, nilGUID) {
			return "is the nil GUID"
		}
		return ""
	}
	return upnProblem(id)
}

// looksLikeGUID reports whether s is a canonical 8-4-4-4-12 hex GUID.
func looksLikeGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func isAlnum(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// isLocalChar reports whether c may appear in a UPN local part (other than
// the dot, whose placement is checked separately, and a leading $).
func isLocalChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	switch c {
	case '\'', '-', '_', '!', '#', '^', '~':
		return true
	}
	return false
}

// upnProblem checks an ASCII, control-free string as a userPrincipalName.
func upnProblem(id string) string {
	at := strings.IndexByte(id, '@')
	if at < 0 {
		return "is neither a GUID nor a userPrincipalName (no @)"
	}
	if strings.IndexByte(id[at+1:], '@') >= 0 {
		return "has more than one @"
	}
	local, domain := id[:at], id[at+1:]
	if p := localPartProblem(local); p != "" {
		return p
	}
	return domainProblem(domain)
}

func localPartProblem(local string) string {
	if local == "" {
		return "has an empty local part"
	}
	if len(local) > MaxUPNLocalLength {
		return "has a local part longer than 64 characters"
	}
	rest := strings.TrimPrefix(local, "$")
	if rest == "" {
		return "has an empty local part after $"
	}
	if rest[0] == '.' || rest[len(rest)-1] == '.' {
		return "has a local part that starts or ends with a dot"
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '.' {
			if rest[i+1] == '.' { // rest does not end with '.', so i+1 is in range
				return "has two consecutive dots in the local part"
			}
			continue
		}
		if !isLocalChar(c) {
			return "has a character not allowed in a userPrincipalName local part"
		}
	}
	return ""
}

func domainProblem(domain string) string {
	if domain == "" {
		return "has an empty domain"
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "has a domain with fewer than two labels"
	}
	for _, label := range labels {
		if label == "" {
			return "has an empty domain label"
		}
		if len(label) > maxDNSLabel {
			return "has a domain label longer than 63 characters"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "has a domain label that starts or ends with a hyphen"
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return "has a character not allowed in a domain"
			}
		}
	}
	tld := labels[len(labels)-1]
	allDigits := true
	for i := 0; i < len(tld); i++ {
		if tld[i] < '0' || tld[i] > '9' {
			allDigits = false
			break
		}
	}
	if allDigits {
		return "has an all-numeric top-level domain"
	}
	return ""
}
