package sqlfilter

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// truthOf evaluates a filter's expression to "TRUE", "FALSE" or "UNKNOWN",
// so that tests can tell UNKNOWN from FALSE, which Match does not.
func truthOf(t *testing.T, f *Filter, m Message) string {
	t.Helper()
	v, err := f.root.eval(m)
	require.NoError(t, err)
	switch {
	case v.k == kNull:
		return "UNKNOWN"
	case v.k == kBool && v.b:
		return "TRUE"
	case v.k == kBool:
		return "FALSE"
	}
	t.Fatalf("filter %s gave %s", f, v.typeName())
	return ""
}

// sample is the message most evaluation tests run against.
func sample() *fakeMsg {
	return newMsg(
		"color", "red",
		"quantity", int64(10),
		"small", int8(3),
		"unsigned", uint16(7),
		"huge", uint64(math.MaxUint64),
		"price", 2.5,
		"ratio", float32(0.5),
		"flag", true,
		"off", false,
		"nothing", nil,
		"when", t0,
		"my-prop", "dash",
		"Mixed", "case",
		"pct", "100%",
		"under_score", "a_b",
		"uuid", [16]byte{1},
		"nan", math.NaN(),
		"dur", 3*time.Second,
	).withSys(
		"label", "order-bus-1",
		"to", "Store5",
		"messageid", "m-1",
		"deliverycount", int32(2),
		"sequencenumber", int64(42),
		"enqueuedtimeutc", t0,
	)
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		want   string // TRUE, FALSE or UNKNOWN
	}{
		// Literal filters.
		{"1=1", "TRUE"},
		{"1=0", "FALSE"},
		{"TRUE", "TRUE"},
		{"FALSE", "FALSE"},
		{"NULL", "UNKNOWN"},

		// Each comparison, on integers, doubles, mixed numbers.
		{"quantity = 10", "TRUE"},
		{"quantity <> 10", "FALSE"},
		{"quantity != 11", "TRUE"},
		{"quantity > 9", "TRUE"},
		{"quantity > 10", "FALSE"},
		{"quantity >= 10", "TRUE"},
		{"quantity < 10", "FALSE"},
		{"quantity <= 10", "TRUE"},
		{"quantity = 10.0", "TRUE"},
		{"quantity < 10.5", "TRUE"},
		{"price > 2", "TRUE"},
		{"price = 2.5", "TRUE"},
		{"ratio = 0.5", "TRUE"},
		{"small = 3 AND unsigned = 7", "TRUE"},
		{"huge > 9223372036854775807", "TRUE"},
		{"sys.DeliveryCount = 2", "TRUE"},
		{"sys.SequenceNumber >= 42", "TRUE"},
		{"dur = 3000000000", "TRUE"},
		{"nan = nan", "FALSE"},
		{"nan <> nan", "TRUE"},
		{"nan < 1", "FALSE"},

		// Strings: ordinal and case-sensitive.
		{"color = 'red'", "TRUE"},
		{"color = 'Red'", "FALSE"},
		{"color <> 'blue'", "TRUE"},
		{"sys.To = 'Store5'", "TRUE"},
		{"color + '!' = 'red!'", "TRUE"},

		// Booleans and datetimes.
		{"flag = TRUE", "TRUE"},
		{"flag <> off", "TRUE"},
		{"flag", "TRUE"},
		{"off", "FALSE"},
		{"NOT off", "TRUE"},
		{"when = sys.EnqueuedTimeUtc", "TRUE"},
		{"when >= sys.EnqueuedTimeUtc AND NOT when > sys.EnqueuedTimeUtc", "TRUE"},

		// Arithmetic and precedence.
		{"quantity + 2 * 3 = 16", "TRUE"},
		{"(quantity + 2) * 3 = 36", "TRUE"},
		{"quantity - 2 - 3 = 5", "TRUE"},
		{"quantity / 4 = 2", "TRUE"},
		{"quantity / 4.0 = 2.5", "TRUE"},
		{"quantity % 4 = 2", "TRUE"},
		{"price % 1 = 0.5", "TRUE"},
		{"-quantity = -10", "TRUE"},
		{"- -quantity = 10", "TRUE"},
		{"+quantity = 10", "TRUE"},
		{"-price = -2.5", "TRUE"},
		{"2 - -3 = 5", "TRUE"},
		{"9223372036854775807 + 1 = -9223372036854775808", "TRUE"},
		{"1 / 0.0 > 1e308", "TRUE"},

		// AND binds tighter than OR; NOT tighter than AND.
		{"1=1 OR 1=1 AND 1=0", "TRUE"},
		{"(1=1 OR 1=1) AND 1=0", "FALSE"},
		{"NOT 1=0 AND 1=0", "FALSE"},
		{"NOT (1=0 AND 1=0)", "TRUE"},

		// Missing user properties are unknown, and so is what uses them.
		{"missing = 1", "UNKNOWN"},
		{"missing <> 1", "UNKNOWN"},
		{"missing + 1 = 1", "UNKNOWN"},
		{"-missing = 1", "UNKNOWN"},
		{"missing LIKE 'a%'", "UNKNOWN"},
		{"color LIKE missing", "UNKNOWN"},
		{"color LIKE 'r%' ESCAPE missing", "UNKNOWN"},
		{"missing IN (1, 2)", "UNKNOWN"},
		{"missing NOT IN (1, 2)", "UNKNOWN"},
		{"nothing = 1", "UNKNOWN"},
		{"NOT missing = 1", "UNKNOWN"},
		{"missing = NULL", "UNKNOWN"},
		{"NULL = NULL", "UNKNOWN"},
		{"p('missing') = 1", "UNKNOWN"},

		// AND and OR truth tables with unknown (the documented tables).
		{"1=1 AND 1=1", "TRUE"},
		{"1=1 AND 1=0", "FALSE"},
		{"1=1 AND missing=1", "UNKNOWN"},
		{"1=0 AND 1=1", "FALSE"},
		{"1=0 AND missing=1", "FALSE"},
		{"missing=1 AND 1=1", "UNKNOWN"},
		{"missing=1 AND 1=0", "FALSE"},
		{"missing=1 AND missing=1", "UNKNOWN"},
		{"1=1 OR missing=1", "TRUE"},
		{"1=0 OR 1=0", "FALSE"},
		{"1=0 OR missing=1", "UNKNOWN"},
		{"missing=1 OR 1=1", "TRUE"},
		{"missing=1 OR 1=0", "UNKNOWN"},
		{"missing=1 OR missing=1", "UNKNOWN"},

		// IS NULL and EXISTS.
		{"missing IS NULL", "TRUE"},
		{"nothing IS NULL", "TRUE"},
		{"color IS NULL", "FALSE"},
		{"color IS NOT NULL", "TRUE"},
		{"missing IS NOT NULL", "FALSE"},
		{"sys.CorrelationId IS NULL", "TRUE"},
		{"sys.Label IS NOT NULL", "TRUE"},
		{"uuid IS NOT NULL", "TRUE"},
		{"quantity + missing IS NULL", "TRUE"},
		{"EXISTS(color)", "TRUE"},
		{"EXISTS(nothing)", "TRUE"},
		{"EXISTS(missing)", "FALSE"},
		{"NOT EXISTS(missing)", "TRUE"},
		{"EXISTS(sys.Label)", "TRUE"},
		{"EXISTS(sys.ReplyTo)", "FALSE"},
		{"EXISTS(uuid)", "TRUE"},

		// IN and NOT IN.
		{"color IN ('blue', 'red')", "TRUE"},
		{"color IN ('blue')", "FALSE"},
		{"color NOT IN ('blue', 'green')", "TRUE"},
		{"color NOT IN ('red')", "FALSE"},
		{"quantity IN (1, 10.0)", "TRUE"},
		{"quantity IN (5 + 5)", "TRUE"},
		{"color IN ('blue', missing)", "UNKNOWN"},
		{"color IN (missing, 'red')", "TRUE"},
		{"color NOT IN ('blue', missing)", "UNKNOWN"},
		{"sys.To IN ('Store5','Store6','Store7') OR StoreId = 'Store8'", "TRUE"},

		// LIKE.
		{"sys.Label LIKE '%bus%'", "TRUE"},
		{"sys.Label LIKE 'order%'", "TRUE"},
		{"sys.Label LIKE '%1'", "TRUE"},
		{"sys.Label LIKE 'order'", "FALSE"},
		{"sys.Label LIKE 'ORDER%'", "FALSE"},
		{"sys.Label LIKE 'order-bus-_'", "TRUE"},
		{"sys.Label LIKE 'order-bus-__'", "FALSE"},
		{"sys.Label LIKE '%'", "TRUE"},
		{"sys.Label LIKE '%%%'", "TRUE"},
		{"sys.Label LIKE '%-%-%'", "TRUE"},
		{"sys.Label LIKE '%-%-%-%'", "FALSE"},
		{"sys.Label NOT LIKE '%bus%'", "FALSE"},
		{"sys.Label NOT LIKE 'x%'", "TRUE"},
		{"'' LIKE '%'", "TRUE"},
		{"'' LIKE '_'", "FALSE"},
		{"'' LIKE ''", "TRUE"},
		{"'aaa' LIKE 'a%a'", "TRUE"},
		{"'ab' LIKE 'a%a'", "FALSE"},
		{"'mississippi' LIKE '%iss%ppi'", "TRUE"},
		{"'ünï' LIKE '_n_'", "TRUE"},
		{"'[a]' LIKE '[a]'", "TRUE"},
		{"'a' LIKE '[a]'", "FALSE"},
		{"pct LIKE '100!%' ESCAPE '!'", "TRUE"},
		{"'1000' LIKE '100!%' ESCAPE '!'", "FALSE"},
		{"'1000' LIKE '100%'", "TRUE"},
		{"under_score LIKE 'a!_b' ESCAPE '!'", "TRUE"},
		{"'axb' LIKE 'a!_b' ESCAPE '!'", "FALSE"},
		{"'a!b' LIKE 'a!!b' ESCAPE '!'", "TRUE"},
		{"'ab' LIKE 'a!b' ESCAPE '!'", "TRUE"},
		{"'ABC%' LIKE 'ABC\\%' ESCAPE '\\'", "TRUE"},
		{"'ABCD' LIKE 'ABC\\%' ESCAPE '\\'", "FALSE"},
		{"'a%' LIKE 'a%%' ESCAPE '%'", "TRUE"},
		{"'ab' LIKE 'a%%' ESCAPE '%'", "FALSE"},
		{"color LIKE 'r' + '%'", "TRUE"},

		// Names: sys vs user, brackets, quoted, case of keywords and scopes.
		{"[my-prop] = 'dash'", "TRUE"},
		{"user.[my-prop] = 'dash'", "TRUE"},
		{`"my-prop" = 'dash'`, "TRUE"},
		{"label = 'order-bus-1'", "UNKNOWN"},
		{"user.label = 'order-bus-1'", "UNKNOWN"},
		{"sys.label = 'order-bus-1'", "TRUE"},
		{"SYS.LABEL = 'order-bus-1'", "TRUE"},
		{"mixed = 'case' AND MIXED = 'case'", "TRUE"},
		{"color = 'red' aNd quantity = 10 Or 1=0", "TRUE"},
		{"p('color') = 'red' AND property('user.color') = 'red'", "TRUE"},
		{"p('sys.To') = 'Store5'", "TRUE"},
		{"newid() <> newid()", "TRUE"},
		{"newid() LIKE '________-____-4___-____-____________'", "TRUE"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.filter)
			require.NoError(t, err)
			m := sample()
			require.Equal(t, tt.want, truthOf(t, f, m))
			matched, err := f.Match(m)
			require.NoError(t, err)
			require.Equal(t, tt.want == "TRUE", matched, "Match reports only TRUE as a match")
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		msg    string
	}{
		{"sys.Nope = 1", "sys.Nope is not a system property"},
		{"sys.Nope IS NULL", "sys.Nope is not a system property"},
		{"EXISTS(sys.Nope)", "sys.Nope is not a system property"},
		{"p('sys.Nope') = 1", "sys.Nope is not a system property"},
		{"color = 1", "operator = cannot compare a string with an integer"},
		{"quantity = '10'", "operator = cannot compare an integer with a string"},
		{"color > 'a'", "operator > cannot compare a string with a string"},
		{"flag < TRUE", "operator < cannot compare a boolean with a boolean"},
		{"flag = 1", "operator = cannot compare a boolean with an integer"},
		{"when = 'x'", "operator = cannot compare a datetime with a string"},
		{"uuid = 1", "operator = cannot compare a value of unsupported type [16]uint8 with an integer"},
		{"color IN (1)", "operator = cannot compare a string with an integer"},
		{"color + 1 = 'x'", "operator + cannot be applied to a string and an integer"},
		{"color * 'x' = 'x'", "operator * cannot be applied to a string and a string"},
		{"when - when = 0", "operator - cannot be applied to a datetime and a datetime"},
		{"-color = 1", "unary - cannot be applied to a string"},
		{"quantity / 0 = 1", "integer division by zero"},
		{"quantity % 0 = 1", "integer division by zero"},
		{"-9223372036854775808 / -1 = 0", "integer overflow in -9223372036854775808 / -1"},
		{"-9223372036854775808 % -1 = 0", "integer overflow in -9223372036854775808 % -1"},
		{"quantity LIKE '1%'", "LIKE cannot be applied to an integer"},
		{"color LIKE 1", "LIKE pattern is an integer, not a string"},
		{"color LIKE 'r%' ESCAPE '!!'", "ESCAPE must be a string of one character"},
		{"color LIKE 'r%' ESCAPE 1", "ESCAPE must be a string of one character"},
		{"color LIKE 'r!' ESCAPE '!'", "LIKE pattern ends with its escape character"},
		{"color", "filter evaluates to a string, not a boolean"},
		{"color AND 1=1", "operand of AND is a string, not a boolean"},
		{"1=0 OR quantity", "operand of OR is an integer, not a boolean"},
		{"NOT color", "operand of NOT is a string, not a boolean"},
		{"p(1) = 1", "p() takes a string, not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.filter)
			require.NoError(t, err)
			matched, err := f.Match(sample())
			require.False(t, matched)
			var ee *EvalError
			require.True(t, errors.As(err, &ee), "error %v is not an *EvalError", err)
			require.Equal(t, tt.msg, ee.Msg)
			require.Equal(t, "sql filter: "+tt.msg, err.Error())
		})
	}
}

// TestShortCircuit pins that AND and OR do not evaluate their right
// operand once the left decides, so its errors are not reported.
func TestShortCircuit(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{"1=0 AND sys.Nope = 1", "1=1 OR sys.Nope = 1"} {
		f, err := ParseFilter(expr)
		require.NoError(t, err)
		_, err = f.Match(sample())
		require.NoError(t, err, expr)
	}
	f, err := ParseFilter("1=1 AND sys.Nope = 1")
	require.NoError(t, err)
	_, err = f.Match(sample())
	require.Error(t, err)
}

func TestFromGo(t *testing.T) {
	t.Parallel()
	type myString string
	type myInt int16
	var nilPtr *int
	tests := []struct {
		in   any
		want any
	}{
		{nil, nil},
		{true, true},
		{"s", "s"},
		{myString("s"), "s"},
		{int(1), int64(1)},
		{int8(-2), int64(-2)},
		{int16(3), int64(3)},
		{int32(4), int64(4)},
		{int64(5), int64(5)},
		{myInt(6), int64(6)},
		{uint(7), int64(7)},
		{uint8(8), int64(8)},
		{uint32(9), int64(9)},
		{uint64(math.MaxInt64), int64(math.MaxInt64)},
		{uint64(math.MaxUint64), float64(math.MaxUint64)},
		{float32(1.5), 1.5},
		{2.5, 2.5},
		{t0, t0},
		{nilPtr, nil},
		{[]byte("x"), []byte("x")},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, fromGo(tt.in).toGo(), "%T %v", tt.in, tt.in)
	}
}

// TestConcurrentMatch runs one filter from many goroutines, for -race.
func TestConcurrentMatch(t *testing.T) {
	t.Parallel()
	f, err := ParseFilter("color = 'red' AND quantity > 5 AND sys.Label LIKE '%bus%'")
	require.NoError(t, err)
	done := make(chan bool)
	for range 8 {
		go func() {
			ok, err := f.Match(sample())
			done <- ok && err == nil
		}()
	}
	for range 8 {
		require.True(t, <-done)
	}
}

func BenchmarkMatch(b *testing.B) {
	f, err := ParseFilter("sys.Label LIKE '%bus%' AND color IN ('blue', 'red') AND quantity * 2 > 15 AND NOT EXISTS(missing)")
	require.NoError(b, err)
	m := sample()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := f.Match(m); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// TestLikeLiteralPatternsCompileOnceAndAgree checks that a LIKE whose
// pattern and escape are literals is compiled at parse time, that any other
// is not, and that the compiled pattern gives every result (and error) that
// compiling it per message gives.
func TestLikeLiteralPatternsCompileOnceAndAgree(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filter   string
		compiled bool
	}{
		{"sys.Label LIKE '%bus%'", true},
		{"sys.Label NOT LIKE 'x%'", true},
		{"'' LIKE ''", true},
		{"'mississippi' LIKE '%iss%ppi'", true},
		{"pct LIKE '100!%' ESCAPE '!'", true},
		{"'a%' LIKE 'a%%' ESCAPE '%'", true},
		{"missing LIKE 'a%'", true},
		{"quantity LIKE '1%'", true},
		{"color LIKE 'r' + '%'", false},
		{"color LIKE missing", false},
		{"color LIKE 'r%' ESCAPE missing", false},
		{"color LIKE 1", false},
		{"color LIKE 'r%' ESCAPE '!!'", false},
		{"color LIKE 'r!' ESCAPE '!'", false},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := ParseFilter(tc.filter)
			require.NoError(t, err)
			var likes []*like
			walk(f.root, func(n node) {
				if l, ok := n.(*like); ok {
					likes = append(likes, l)
				}
			})
			require.Len(t, likes, 1)
			require.Equal(t, tc.compiled, likes[0].compiled != nil, "compiled at parse time")
			m := sample()
			once, onceErr := f.root.eval(m)
			likes[0].compiled = nil
			each, eachErr := f.root.eval(m)
			require.Equal(t, eachErr, onceErr)
			require.Equal(t, each, once)
		})
	}
}
