package sqlfilter

import (
	"errors"
	"fmt"
	"strings"
)

// Message is what a filter reads and an action changes.
//
// System property names are passed in lower case without the "sys."
// prefix: "messageid", "correlationid", "to", "replyto", "label",
// "sessionid", "replytosessionid", "contenttype", "deliverycount",
// "sequencenumber", "enqueuedtimeutc", "size", "timetolive",
// "scheduledenqueuetimeutc" and so on. User property names are passed as
// written in the expression; Service Bus documents property names as
// case-insensitive, so an implementation should match them with
// strings.EqualFold (and SetUser should replace a property whose name
// differs only in case).
//
// Values are Go values: string, bool, any integer kind (read as int64),
// float32 or float64 (read as float64), time.Time, or nil for NULL. Other
// types may be returned; a filter can then only test them with IS NULL
// and EXISTS.
type Message interface {
	// System returns a system property. ok is false only when name is not a
	// system property at all, which makes the filter fail with an error; a
	// system property that is simply unset returns (nil, true).
	System(name string) (v any, ok bool)
	// User returns a user (application) property; ok is false when the
	// message has no property by that name.
	User(name string) (v any, ok bool)
	// SetSystem sets a system property, or clears it when v is nil. It
	// returns an error for a property that cannot be set (read-only or
	// unknown) or a value of the wrong type.
	SetSystem(name string, v any) error
	// SetUser sets a user property; v may be nil.
	SetUser(name string, v any)
	// RemoveUser removes a user property, if the message has it.
	RemoveUser(name string)
}

// SyntaxError reports an expression that does not parse, or breaks one of
// the limits (MaxLength, MaxDepth, MaxStatements).
type SyntaxError struct {
	// Pos is the 1-based position, in characters, where the error was found.
	Pos int
	// Msg says what is wrong.
	Msg string

	action bool // set for errors from ParseAction
}

// Error returns the error as `sql filter: at 12: expected ")"`, or with
// "sql action" for an action.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s: at %d: %s", prefix(e.action), e.Pos, e.Msg)
}

// EvalError reports a filter or action that cannot be evaluated for a
// message: a type mismatch, a system property that does not exist, an
// integer division by zero, a bad LIKE escape.
type EvalError struct {
	// Msg says what is wrong.
	Msg string

	action bool // set for errors from Apply
}

// Error returns the error as "sql filter: <message>" or "sql action: ...".
func (e *EvalError) Error() string { return prefix(e.action) + ": " + e.Msg }

func prefix(action bool) string {
	if action {
		return "sql action"
	}
	return "sql filter"
}

// markAction sets the action flag on our error types within err.
func markAction(err error) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		se.action = true
	}
	var ee *EvalError
	if errors.As(err, &ee) {
		ee.action = true
	}
	return err
}

// Filter is a parsed SQL filter. It is immutable and safe for concurrent
// use.
type Filter struct {
	root node
}

// ParseFilter parses a SQL filter expression, such as
// "sys.Label LIKE 'order-%' AND quantity > 10". Errors are *SyntaxError.
func ParseFilter(expr string) (*Filter, error) {
	f, err := parseFilter(expr, MaxLength)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// parseFilter parses a filter no longer than limit characters (0: any).
func parseFilter(expr string, limit int) (*Filter, *SyntaxError) {
	p, err := newParser(expr, limit)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tEOF {
		return nil, errorAt(p.peek(), "empty filter")
	}
	root, err := p.condition()
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return &Filter{root: root}, nil
}

// Match evaluates the filter for m. It returns true only when the filter
// is TRUE; FALSE and UNKNOWN (the result of comparing a missing property,
// for instance) are both false, as Service Bus delivers a message to a
// subscription only for a rule whose filter is true. Errors are
// *EvalError; the caller should treat the message as not matched.
func (f *Filter) Match(m Message) (bool, error) {
	v, err := f.root.eval(m)
	if err != nil {
		return false, err
	}
	switch v.k {
	case kBool:
		return v.b, nil
	case kNull:
		return false, nil
	}
	return false, evalErr("filter evaluates to %s, not a boolean", v.typeName())
}

// SystemProperties returns the system properties the filter names, in
// lower case as Message.System receives them, each once, in order of first
// appearance. A caller can check them against the properties it knows when
// a rule is created; names computed at run time with property() are not
// included.
func (f *Filter) SystemProperties() []string {
	var s sysNames
	walk(f.root, s.add)
	return s.names
}

// String returns the filter in canonical form: keywords in upper case,
// every property with its scope, parentheses only where needed. Parsing
// it gives an equivalent filter.
func (f *Filter) String() string {
	var b strings.Builder
	f.root.format(&b)
	return b.String()
}

// statement is one SET or REMOVE.
type statement struct {
	target *prop
	expr   node // nil for REMOVE
}

// Action is a parsed SQL rule action. It is immutable and safe for
// concurrent use.
type Action struct {
	stmts []statement
}

// ParseAction parses a SQL rule action: one or more of
// "SET property = expression" and "REMOVE property", each optionally
// followed by a semicolon. Errors are *SyntaxError.
func ParseAction(expr string) (*Action, error) {
	a, err := parseAction(expr, MaxLength)
	if err != nil {
		return nil, markAction(err)
	}
	return a, nil
}

// parseAction parses an action no longer than limit characters (0: any).
func parseAction(expr string, limit int) (*Action, *SyntaxError) {
	p, err := newParser(expr, limit)
	if err != nil {
		return nil, err
	}
	a := &Action{}
	for {
		t := p.peek()
		if t.kind == tEOF && len(a.stmts) > 0 {
			return a, nil
		}
		if len(a.stmts) == MaxStatements {
			return nil, errorAt(t, fmt.Sprintf("more than %d statements", MaxStatements))
		}
		var st statement
		switch {
		case p.isWord("SET"):
			p.next()
			if st.target, err = p.property(); err != nil {
				return nil, err
			}
			if err := p.expectOp("="); err != nil {
				return nil, err
			}
			if st.expr, err = p.valueExpr(); err != nil {
				return nil, err
			}
		case p.isWord("REMOVE"):
			p.next()
			if st.target, err = p.property(); err != nil {
				return nil, err
			}
		default:
			return nil, errorAt(t, "expected SET or REMOVE, found "+describe(t))
		}
		a.stmts = append(a.stmts, st)
		if p.isOp(";") {
			p.next()
		} else if nt := p.peek(); nt.kind != tEOF && !p.isWord("SET") && !p.isWord("REMOVE") {
			return nil, errorAt(nt, "expected \";\" or the end of the action, found "+describe(nt))
		}
	}
}

// Apply runs the action's statements on m in order, each seeing the
// changes of those before it. SET on a user property stores the value,
// widened to a double when the property already holds a double and the
// value is an integer (the implicit conversion the documentation
// promises); SET of an unknown value stores nil. REMOVE on a system
// property clears it with SetSystem(name, nil). Apply stops at the first
// error (an *EvalError, or SetSystem's error wrapped) and does not undo the
// statements before it, so a caller that needs all-or-nothing should apply
// the action to a copy of the message.
func (a *Action) Apply(m Message) error {
	for _, st := range a.stmts {
		name, key := st.target.name, st.target.key
		if st.expr == nil {
			if st.target.scope == scopeSys {
				if err := m.SetSystem(key, nil); err != nil {
					return fmt.Errorf("sql action: REMOVE sys.%s: %w", name, err)
				}
				continue
			}
			m.RemoveUser(key)
			continue
		}
		v, err := st.expr.eval(m)
		if err != nil {
			return markAction(err)
		}
		if st.target.scope == scopeSys {
			if err := m.SetSystem(key, v.toGo()); err != nil {
				return fmt.Errorf("sql action: SET sys.%s: %w", name, err)
			}
			continue
		}
		if v.k == kInt {
			if old, ok := m.User(key); ok && fromGo(old).k == kFloat {
				v = floatValue(float64(v.i))
			}
		}
		m.SetUser(key, v.toGo())
	}
	return nil
}

// SystemProperties returns the system properties the action reads or
// changes, as [Filter.SystemProperties] does.
func (a *Action) SystemProperties() []string {
	var s sysNames
	for _, st := range a.stmts {
		s.add(st.target)
		walk(st.expr, s.add)
	}
	return s.names
}

// String returns the action in canonical form, statements separated by
// "; ".
func (a *Action) String() string {
	var b strings.Builder
	for i, st := range a.stmts {
		if i > 0 {
			b.WriteString("; ")
		}
		if st.expr == nil {
			b.WriteString("REMOVE ")
			st.target.format(&b)
			continue
		}
		b.WriteString("SET ")
		st.target.format(&b)
		b.WriteString(" = ")
		st.expr.format(&b)
	}
	return b.String()
}
