package sqlfilter

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		action   string
		wantUser map[string]any // the user properties afterwards
		wantSys  map[string]any // system properties checked afterwards
	}{
		{
			name:     "set a new property",
			action:   "SET importance = 'critical'",
			wantUser: map[string]any{"color": "red", "quantity": int64(10), "price": 2.5, "priority": "high", "importance": "critical"},
		},
		{
			name:     "documented example",
			action:   "SET quantity = quantity / 2; REMOVE priority;SET sys.CorrelationId = 'low';",
			wantUser: map[string]any{"color": "red", "quantity": int64(5), "price": 2.5},
			wantSys:  map[string]any{"correlationid": "low"},
		},
		{
			name:     "statements see earlier ones",
			action:   "SET a = 1; SET b = a + 1; SET a = b * 10",
			wantUser: map[string]any{"color": "red", "quantity": int64(10), "price": 2.5, "priority": "high", "a": int64(20), "b": int64(2)},
		},
		{
			name:     "names are case-insensitive",
			action:   "SET COLOR = 'blue'; REMOVE Priority",
			wantUser: map[string]any{"color": "blue", "quantity": int64(10), "price": 2.5},
		},
		{
			name:     "an integer into a double property stays a double",
			action:   "SET price = 3",
			wantUser: map[string]any{"color": "red", "quantity": int64(10), "price": 3.0, "priority": "high"},
		},
		{
			name:     "a double into an integer property replaces it",
			action:   "SET quantity = 1.5",
			wantUser: map[string]any{"color": "red", "quantity": 1.5, "price": 2.5, "priority": "high"},
		},
		{
			name:     "unknown value stores null",
			action:   "SET x = missing + 1",
			wantUser: map[string]any{"color": "red", "quantity": int64(10), "price": 2.5, "priority": "high", "x": nil},
		},
		{
			name:     "remove a missing property is no error",
			action:   "REMOVE missing",
			wantUser: map[string]any{"color": "red", "quantity": int64(10), "price": 2.5, "priority": "high"},
		},
		{
			name:     "system properties",
			action:   "SET sys.Label = sys.Label + '-routed'; SET sys.To = color; SET route = sys.Label",
			wantUser: map[string]any{"color": "red", "quantity": int64(10), "price": 2.5, "priority": "high", "route": "orders-routed"},
			wantSys:  map[string]any{"label": "orders-routed", "to": "red"},
		},
		{
			name:     "remove a system property clears it",
			action:   "REMOVE sys.ReplyTo",
			wantUser: map[string]any{"color": "red", "quantity": int64(10), "price": 2.5, "priority": "high"},
			wantSys:  map[string]any{"replyto": nil},
		},
		{
			name:     "brackets and booleans",
			action:   "SET [my-prop] = TRUE; SET user.[other prop] = NOT_A_KEYWORD",
			wantUser: map[string]any{"color": "red", "quantity": int64(10), "price": 2.5, "priority": "high", "my-prop": true, "other prop": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := ParseAction(tt.action)
			require.NoError(t, err)
			m := newMsg("color", "red", "quantity", int64(10), "price", 2.5, "priority", "high").
				withSys("label", "orders", "replyto", "back")
			require.NoError(t, a.Apply(m))
			require.Equal(t, tt.wantUser, m.user)
			for k, v := range tt.wantSys {
				require.Equal(t, v, m.sys[k], "sys.%s", k)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		action string
		msg    string
		eval   bool // an *EvalError rather than an error from SetSystem
	}{
		{"SET a = 1; SET b = sys.Nope", "sql action: sys.Nope is not a system property", true},
		{"SET a = 1; SET b = color + 1", "sql action: operator + cannot be applied to a string and an integer", true},
		{"SET a = 1; SET b = 1 / 0", "sql action: integer division by zero", true},
		{"SET a = 1; SET sys.SequenceNumber = 5", `sql action: SET sys.SequenceNumber: system property "sequencenumber" is read-only`, false},
		{"SET a = 1; SET sys.Nope = 'x'", `sql action: SET sys.Nope: no system property "nope"`, false},
		{"SET a = 1; SET sys.Label = 5", `sql action: SET sys.Label: system property "label" takes a string, not int64`, false},
		{"SET a = 1; REMOVE sys.DeliveryCount", `sql action: REMOVE sys.DeliveryCount: system property "deliverycount" is read-only`, false},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			t.Parallel()
			a, err := ParseAction(tt.action)
			require.NoError(t, err)
			m := newMsg("color", "red")
			err = a.Apply(m)
			require.EqualError(t, err, tt.msg)
			var ee *EvalError
			require.Equal(t, tt.eval, errors.As(err, &ee))
			// Statements before the failing one stay applied.
			require.Equal(t, int64(1), m.user["a"])
			_, has := m.user["b"]
			require.False(t, has)
		})
	}
}
