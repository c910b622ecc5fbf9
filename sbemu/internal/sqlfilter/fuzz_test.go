package sqlfilter

import (
	"fmt"
	"testing"
)

var filterSeeds = []string{
	"1=1",
	"1=0",
	"sys.Label LIKE '%bus%' OR user.tag IN ('queue', 'topic', 'subscription')",
	"color = 'red' AND (quantity > 10 OR price <= 2.5e3) AND NOT flag",
	"[my-prop] IS NOT NULL AND EXISTS(sys.To) AND \"quoted\"\"id\" <> 'it''s'",
	"a NOT LIKE 'x!%%' ESCAPE '!' AND b NOT IN (1, -2, .5, NULL)",
	"-(a + b) * c / d % e = - -f",
	"a = -9223372036854775808",
	"p('sys.To') = newid() OR property('x') = 1",
	"((((a = 1))))",
	"NOT NOT NOT a",
	"TRUE",
	"a = 1e",
	"'unterminated",
	"[",
}

var actionSeeds = []string{
	"SET a = 1",
	"SET quantity = quantity / 2; REMOVE priority;SET sys.CorrelationId = 'low';",
	"SET a = 1 SET b = 2 REMOVE c",
	"SET sys.Label = sys.Label + '-x'; SET [a b] = -(1.5 * x)",
	"REMOVE",
	"SET a = b = c",
}

// FuzzParseFilter checks that parsing never panics, that a filter prints
// to something that parses back to the same text, that evaluating it never
// panics, and that LIKE patterns compiled at parse time match as patterns
// compiled per message do.
func FuzzParseFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := ParseFilter(expr)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %v is %T, not *SyntaxError", err, err)
			}
			return
		}
		s := flt.String()
		// The canonical form may be longer than the input (spaces, scopes),
		// so it is parsed without the length limit.
		again, serr := parseFilter(s, 0)
		if serr != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", expr, s, serr)
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("%q printed as %q, then as %q", expr, s, s2)
		}
		msgs := []Message{sample(), newMsg()}
		type result struct {
			ok  bool
			err string
		}
		once := make([]result, len(msgs))
		for i, m := range msgs {
			ok, err := flt.Match(m)
			once[i] = result{ok, fmt.Sprint(err)}
		}
		// LIKE patterns compiled at parse time agree with compiling them
		// per message (newid() differs per evaluation, so it is left out).
		random := false
		walk(flt.root, func(n node) {
			switch n := n.(type) {
			case *call:
				random = random || n.name == "newid"
			case *like:
				n.compiled = nil
			}
		})
		for i, m := range msgs {
			ok, err := flt.Match(m)
			if each := (result{ok, fmt.Sprint(err)}); !random && each != once[i] {
				t.Fatalf("%q on message %d: precompiled LIKE gives %+v, compiled per message %+v", expr, i, once[i], each)
			}
		}
	})
}

// FuzzParseAction is FuzzParseFilter for actions; applying them must not
// panic either.
func FuzzParseAction(f *testing.F) {
	for _, s := range actionSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		a, err := ParseAction(expr)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %v is %T, not *SyntaxError", err, err)
			}
			return
		}
		s := a.String()
		again, serr := parseAction(s, 0)
		if serr != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", expr, s, serr)
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("%q printed as %q, then as %q", expr, s, s2)
		}
		_ = a.Apply(sample())
	})
}
