package cli

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseIDs feeds arbitrary input files to parseIDs: no panic, line
// numbers within the input, ids trimmed and on one line in the line format.
func FuzzParseIDs(f *testing.F) {
	f.Add([]byte("alice@contoso.com\nbob@contoso.com\n"), false)
	f.Add([]byte("name,userId\nAlice,alice@contoso.com\n\"x\ny\",bob@contoso.com\n"), false)
	f.Add([]byte("\uFEFFuserId\r\n\"unterminated\n"), false)
	f.Add([]byte("# comment\n\n  spaced  \n"), false)
	f.Add([]byte("# export\nName,UserPrincipalName\nAlice,alice@contoso.com\n"), true)
	f.Add([]byte("name,dept\nAlice,HR\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, isCSV bool) {
		ids, err := parseIDs(data, isCSV)
		if err != nil {
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, in := range ids {
			n, convErr := strconv.Atoi(strings.TrimPrefix(in.where, "line "))
			if convErr != nil || n < 1 || n > lines {
				t.Fatalf("bad position %q for %d lines", in.where, lines)
			}
			if in.id != strings.TrimSpace(in.id) {
				t.Fatalf("id %q not trimmed", in.id)
			}
		}
	})
}
