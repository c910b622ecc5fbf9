package sqlfilter

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFilterCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"1=1", "1 = 1"},
		{"1=0", "1 = 0"},
		{"color = 'red'", "user.color = 'red'"},
		{"user.color='red'", "user.color = 'red'"},
		{"USER.Color = 'red'", "user.Color = 'red'"},
		{"sys.Label LIKE '%bus%'", "sys.Label LIKE '%bus%'"},
		{"SYS.label like 'a' escape '!'", "sys.label LIKE 'a' ESCAPE '!'"},
		{"a not like 'x%'", "user.a NOT LIKE 'x%'"},
		{"a in (1, 2,3)", "user.a IN (1, 2, 3)"},
		{"a NoT In ('x')", "user.a NOT IN ('x')"},
		{"a is null", "user.a IS NULL"},
		{"a IS NOT NULL", "user.a IS NOT NULL"},
		{"exists(a) and EXISTS ( sys.To )", "EXISTS(user.a) AND EXISTS(sys.To)"},
		{"[my-prop] = 1", "user.[my-prop] = 1"},
		{"user.[my-prop] = 1", "user.[my-prop] = 1"},
		{"[a]]b] = 1", "user.[a]]b] = 1"},
		{`"Contoso & Northwind" = 1`, "user.[Contoso & Northwind] = 1"},
		{`"say ""hi""" = 1`, `user.[say "hi"] = 1`},
		{"[plain] = 1", "user.plain = 1"},
		{"[not] = 1", "user.[not] = 1"},
		{"sys = 1", "user.sys = 1"},
		{"ünïcode_1 = 1", "user.ünïcode_1 = 1"},
		{"ſet = 1 AND KEY = 2", "user.ſet = 1 AND user.KEY = 2"}, // only ASCII case folds to a keyword
		{"s = 'it''s'", "user.s = 'it''s'"},
		{"a = -5", "user.a = -5"},
		{"a = - 5", "user.a = -5"},
		{"a = -9223372036854775808", "user.a = -9223372036854775808"},
		{"a = 9223372036854775807", "user.a = 9223372036854775807"},
		{"a = 2.0", "user.a = 2.0"},
		{"a = 1894.1204", "user.a = 1894.1204"},
		{"a = 101.5E5", "user.a = 1.015e+07"},
		{"a = 0.5E-2", "user.a = 0.005"},
		{"a = .5", "user.a = 0.5"},
		{"a = 1.", "user.a = 1.0"},
		{"a = -0.0", "user.a = -0.0"},
		{"a = true or b = FALSE or c = null", "user.a = TRUE OR user.b = FALSE OR user.c = NULL"},
		{"TRUE", "TRUE"},
		{"flag", "user.flag"},
		{"NOT flag", "NOT user.flag"},
		// Precedence: NOT over AND over OR; * over +; left associativity.
		{"a=1 OR b=2 AND c=3", "user.a = 1 OR user.b = 2 AND user.c = 3"},
		{"(a=1 OR b=2) AND c=3", "(user.a = 1 OR user.b = 2) AND user.c = 3"},
		{"NOT a=1 AND b=2", "NOT user.a = 1 AND user.b = 2"},
		{"NOT (a=1 AND b=2)", "NOT (user.a = 1 AND user.b = 2)"},
		{"NOT NOT a=1", "NOT NOT user.a = 1"},
		{"a + b * c = 1", "user.a + user.b * user.c = 1"},
		{"(a + b) * c = 1", "(user.a + user.b) * user.c = 1"},
		{"a - (b - c) = 1", "user.a - (user.b - user.c) = 1"},
		{"(a - b) - c = 1", "user.a - user.b - user.c = 1"},
		{"a / b % c = 1", "user.a / user.b % user.c = 1"},
		{"-(a + b) = 1", "-(user.a + user.b) = 1"},
		{"- -a = 1", "- -user.a = 1"},
		{"-a = +b", "-user.a = +user.b"},
		{"((((a)))) = 1", "user.a = 1"},
		{"+(0) % 0 = A0", "+(0) % 0 = user.A0"},
		{"-(5) = a", "-(5) = user.a"},
		{"-(-5) = a", "-(-5) = user.a"},
		{"a <> 1 AND a != 2 AND a > 3 AND a >= 4 AND a < 5 AND a <= 6",
			"user.a <> 1 AND user.a != 2 AND user.a > 3 AND user.a >= 4 AND user.a < 5 AND user.a <= 6"},
		{"p('x') = 1 AND property('sys.To') = 'a'", "p('x') = 1 AND property('sys.To') = 'a'"},
		{"p = 1", "user.p = 1"},
		{"NewId() <> ''", "newid() <> ''"},
		{"\tsys.To\n=\r\n'x'  ", "sys.To = 'x'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, f.String())
			again, err := ParseFilter(f.String())
			require.NoError(t, err)
			require.Equal(t, tt.want, again.String())
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 1, "empty filter"},
		{"   ", 4, "empty filter"},
		{"a = ", 5, "expected a value, found end of expression"},
		{"(a = 1", 7, `expected ")", found end of expression`},
		{"a = 1)", 6, `unexpected ")"`},
		{"a = 'abc", 5, "unterminated string constant"},
		{"[abc = 1", 1, "unterminated delimited identifier"},
		{`"abc = 1`, 1, "unterminated quoted identifier"},
		{"[] = 1", 1, "empty delimited identifier"},
		{"a = 1 AND", 10, "expected a value, found end of expression"},
		{"a = 1 b = 2", 7, `unexpected identifier "b"`},
		{"a == 1", 4, `expected a value, found "="`},
		{"a = 1 = 2", 7, `unexpected "="`},
		{"a # 1", 3, `unexpected '#'`},
		{"a = 12abc", 7, `unexpected 'a' after a number`},
		{"a = 1e", 7, "expected a digit in the exponent"},
		{"a = 1e+", 8, "expected a digit in the exponent"},
		{"a = 9223372036854775808", 5, "out of the range of a 64-bit integer"},
		{"a = -9223372036854775809", 6, "out of the range of a 64-bit integer"},
		{"a = 1e400", 5, "out of the range of a double"},
		{"1", 1, "expected a condition, found a value"},
		{"a + 1", 1, "expected a condition, found a value"},
		{"'x'", 1, "expected a condition, found a value"},
		{"1 AND a = 1", 1, "operand of AND must be a condition"},
		{"a = 1 OR 2", 10, "operand of OR must be a condition"},
		{"NOT 1", 5, "operand of NOT must be a condition"},
		{"(a = 1) + 1 = 2", 1, "a condition cannot be used as a value"},
		{"(a = 1) = TRUE", 1, "a condition cannot be used as a value"},
		{"a = (b = 1)", 5, "a condition cannot be used as a value"},
		{"a IN (b = 1)", 9, `expected ")", found "="`},
		{"a IN ((b = 1))", 7, "a condition cannot be used as a value"},
		{"a IN 1", 6, `expected "(", found "1"`},
		{"a IN ()", 7, `expected a value, found ")"`},
		{"a IN (1,", 9, "expected a value, found end of expression"},
		{"a NOT = 1", 7, "expected IN or LIKE after NOT"},
		{"a IS 1", 6, "expected NULL"},
		{"a IS NOT", 9, "expected NULL"},
		{"EXISTS(1)", 8, "expected a property name"},
		{"EXISTS a", 8, `expected "("`},
		{"EXISTS(a", 9, `expected ")"`},
		{"foo.bar = 1", 1, `unknown scope "foo"`},
		{"sys. = 1", 6, `expected a property name after "sys."`},
		{"sys.and = 1", 5, `expected a property name after "sys."`},
		{"and = 1", 1, "expected a value, found AND"},
		{"nope(1) = 1", 1, `unknown function "nope"`},
		{"exiſts(a)", 1, `unknown function "exiſts"`},
		{"p() = 1", 3, `expected a value, found ")"`},
		{"newid(1) = 1", 7, `expected ")"`},
		{"a LIKE", 7, "expected a value"},
		{"a LIKE 'x' ESCAPE", 18, "expected a value"},
		{"a = 'x' \x00", 9, "unexpected U+0000"},
		{"a = '\xff'", 1, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.in)
			require.Nil(t, f)
			var se *SyntaxError
			require.True(t, errors.As(err, &se), "error %v is not a *SyntaxError", err)
			require.Equal(t, tt.pos, se.Pos, "position; error: %v", err)
			require.Contains(t, se.Msg, tt.msg)
			require.True(t, strings.HasPrefix(err.Error(), "sql filter: at "), err.Error())
		})
	}
}

func TestSyntaxErrorFormat(t *testing.T) {
	t.Parallel()
	_, err := ParseFilter("(a = 1 OR b = 2")
	require.EqualError(t, err, `sql filter: at 16: expected ")", found end of expression`)
	_, err = ParseAction("SET a = ")
	require.EqualError(t, err, `sql action: at 9: expected a value, found end of expression`)
}

func TestParseLimits(t *testing.T) {
	t.Parallel()

	// Exactly MaxLength characters parses; one more does not. Characters
	// are counted, not bytes.
	long := "a = '" + strings.Repeat("é", MaxLength-6) + "'"
	require.Equal(t, MaxLength, len([]rune(long)))
	_, err := ParseFilter(long)
	require.NoError(t, err)
	_, err = ParseFilter(long + " ")
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	require.Equal(t, MaxLength+1, se.Pos)
	require.Contains(t, se.Msg, "longer than 1024 characters")
	_, err = ParseAction("SET " + long + " ")
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.Msg, "longer than 1024 characters")

	// Nesting: MaxDepth levels parse, one more does not, whether by
	// parentheses, NOT or signs.
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "a = 1" + strings.Repeat(close, n)
	}
	for _, tc := range []struct{ open, close string }{{"(", ")"}, {"NOT ", ""}} {
		_, err = ParseFilter(nest(tc.open, tc.close, MaxDepth))
		require.NoError(t, err, tc.open)
		_, err = ParseFilter(nest(tc.open, tc.close, MaxDepth+1))
		require.ErrorAs(t, err, &se, tc.open)
		require.Contains(t, se.Msg, "nested more than 64 levels deep")
	}
	_, err = ParseFilter("a = " + strings.Repeat("-", MaxDepth) + "b")
	require.NoError(t, err)
	_, err = ParseFilter("a = " + strings.Repeat("-", MaxDepth+1) + "b")
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.Msg, "nested more than")

	// A long flat chain is fine: it is bounded by the length limit.
	chain := "a = 1" + strings.Repeat(" OR a = 1", (MaxLength-5)/9)
	_, err = ParseFilter(chain)
	require.NoError(t, err)

	// MaxStatements statements parse, one more does not.
	stmts := strings.Repeat("SET a = 1;", MaxStatements)
	_, err = ParseAction(stmts)
	require.NoError(t, err)
	_, err = ParseAction(stmts + "REMOVE a")
	require.ErrorAs(t, err, &se)
	require.Equal(t, len(stmts)+1, se.Pos)
	require.Contains(t, se.Msg, "more than 32 statements")
}

func TestParseActionCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"SET a = 1", "SET user.a = 1"},
		{"set a = 1;", "SET user.a = 1"},
		{"SET quantity = quantity / 2; REMOVE priority;SET sys.CorrelationId = 'low';",
			"SET user.quantity = user.quantity / 2; REMOVE user.priority; SET sys.CorrelationId = 'low'"},
		{"SET a = 1 SET b = 2 remove c", "SET user.a = 1; SET user.b = 2; REMOVE user.c"},
		{"SET [my-prop] = 'x' + 'y'", "SET user.[my-prop] = 'x' + 'y'"},
		{"SET sys.Label = sys.Label + '-routed'", "SET sys.Label = sys.Label + '-routed'"},
		{"SET [set] = 1", "SET user.[set] = 1"},
		{"REMOVE user.[a b]", "REMOVE user.[a b]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			a, err := ParseAction(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, a.String())
			again, err := ParseAction(a.String())
			require.NoError(t, err)
			require.Equal(t, tt.want, again.String())
		})
	}
}

func TestParseActionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 1, "expected SET or REMOVE, found end of expression"},
		{";", 1, "expected SET or REMOVE"},
		{"SET a = 1;;", 11, "expected SET or REMOVE"},
		{"UPDATE a = 1", 1, "expected SET or REMOVE"},
		{"SET a", 6, `expected "="`},
		{"SET a = 1 2", 11, `expected ";" or the end of the action`},
		{"SET a = b = 1", 11, `expected ";" or the end of the action`},
		{"SET a = b > 1", 11, `expected ";" or the end of the action`},
		{"SET 1 = 1", 5, "expected a property name"},
		{"REMOVE", 7, "expected a property name"},
		{"REMOVE a = 1", 10, `expected ";" or the end of the action`},
		{"SET a = EXISTS(b)", 9, "a condition cannot be used as a value"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			a, err := ParseAction(tt.in)
			require.Nil(t, a)
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.pos, se.Pos, "position; error: %v", err)
			require.Contains(t, se.Msg, tt.msg)
			require.True(t, strings.HasPrefix(err.Error(), "sql action: at "), err.Error())
		})
	}
}

func TestSystemProperties(t *testing.T) {
	t.Parallel()
	f, err := ParseFilter("sys.Label LIKE '%a%' AND (sys.TO IN (sys.ReplyTo, 'x') OR EXISTS(sys.label)) AND -sys.Size + 1 > 2 AND user.To = 1 AND p('sys.MessageId') = 1")
	require.NoError(t, err)
	require.Equal(t, []string{"label", "to", "replyto", "size"}, f.SystemProperties())

	f, err = ParseFilter("color = 'red'")
	require.NoError(t, err)
	require.Empty(t, f.SystemProperties())

	a, err := ParseAction("SET sys.Label = sys.To + sys.ContentType; REMOVE sys.ReplyTo; SET x = sys.label")
	require.NoError(t, err)
	require.Equal(t, []string{"label", "to", "contenttype", "replyto"}, a.SystemProperties())
}
