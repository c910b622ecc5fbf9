package sqlfilter

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// node is one parsed expression.
type node interface {
	// eval computes the node's value for a message.
	eval(m Message) (value, error)
	// prec is the binding strength of the node's outermost operator, used
	// to print parentheses only where they are needed.
	prec() int
	// format writes the node in canonical form.
	format(b *strings.Builder)
}

// Binding strengths, weakest first. Predicates (comparison, IN, LIKE,
// IS NULL) are non-associative and bind weaker than arithmetic.
const (
	precOr = iota + 1
	precAnd
	precNot
	precPred
	precAdd
	precMul
	precUnary
	precPrimary
)

// isPredicate reports whether n is a condition (a comparison, logical
// operator, IN, LIKE, IS NULL or EXISTS), which SQL-92 and Service Bus do not
// allow as an operand of arithmetic or comparison.
func isPredicate(n node) bool {
	switch n.(type) {
	case *logical, *not, *compare, *in, *like, *isNull, *exists:
		return true
	}
	return false
}

// isCondition reports whether n may stand where a condition is expected: a
// predicate, or a value that may be boolean at run time (a property, a
// function, TRUE, FALSE or NULL).
func isCondition(n node) bool {
	if isPredicate(n) {
		return true
	}
	switch n := n.(type) {
	case *prop, *call:
		return true
	case *literal:
		return n.v.k == kBool || n.v.k == kNull
	}
	return false
}

// writeOperand writes n, in parentheses if it binds weaker than min.
func writeOperand(b *strings.Builder, n node, min int) {
	if n.prec() < min {
		b.WriteByte('(')
		n.format(b)
		b.WriteByte(')')
		return
	}
	n.format(b)
}

// literal is a constant.
type literal struct{ v value }

func (n *literal) prec() int { return precPrimary }

func (n *literal) format(b *strings.Builder) {
	switch n.v.k {
	case kNull:
		b.WriteString("NULL")
	case kBool:
		if n.v.b {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	case kInt:
		b.WriteString(strconv.FormatInt(n.v.i, 10))
	case kFloat:
		s := strconv.FormatFloat(n.v.f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		b.WriteString(s)
	case kString:
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(n.v.s, "'", "''"))
		b.WriteByte('\'')
	}
}

// scope says which properties a name refers to.
type scope int

const (
	scopeUser scope = iota // application properties, the default
	scopeSys               // the message's system properties
)

// prop is a property reference.
type prop struct {
	scope scope
	name  string // as written
	key   string // the name passed to Message: lower case for sys, as written for user
}

func (n *prop) prec() int { return precPrimary }

func (n *prop) format(b *strings.Builder) {
	if n.scope == scopeSys {
		b.WriteString("sys.")
	} else {
		b.WriteString("user.")
	}
	writeIdent(b, n.name)
}

// writeIdent writes name as a regular identifier if it is one, otherwise
// as a delimited identifier.
func writeIdent(b *strings.Builder, name string) {
	if isRegularIdent(name) {
		b.WriteString(name)
		return
	}
	b.WriteByte('[')
	b.WriteString(strings.ReplaceAll(name, "]", "]]"))
	b.WriteByte(']')
}

// unary is + or - applied to an expression that is not a number constant
// (a minus before a constant is folded into the constant).
type unary struct {
	op string
	x  node
}

func (n *unary) prec() int { return precUnary }

func (n *unary) format(b *strings.Builder) {
	b.WriteString(n.op)
	var inner strings.Builder
	if l, ok := n.x.(*literal); ok && l.v.numeric() {
		// A sign before a number constant would fold into it on reading.
		inner.WriteByte('(')
		l.format(&inner)
		inner.WriteByte(')')
	} else {
		writeOperand(&inner, n.x, precUnary)
	}
	s := inner.String()
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		b.WriteByte(' ')
	}
	b.WriteString(s)
}

// arith is a binary arithmetic operator: + - * / %.
type arith struct {
	op   string
	l, r node
}

func (n *arith) prec() int {
	if n.op == "+" || n.op == "-" {
		return precAdd
	}
	return precMul
}

func (n *arith) format(b *strings.Builder) {
	p := n.prec()
	writeOperand(b, n.l, p)
	b.WriteString(" " + n.op + " ")
	writeOperand(b, n.r, p+1)
}

// compare is a comparison: = <> != > >= < <=.
type compare struct {
	op   string
	l, r node
}

func (n *compare) prec() int { return precPred }

func (n *compare) format(b *strings.Builder) {
	writeOperand(b, n.l, precAdd)
	b.WriteString(" " + n.op + " ")
	writeOperand(b, n.r, precAdd)
}

// logical is AND or OR.
type logical struct {
	and  bool
	l, r node
}

func (n *logical) prec() int {
	if n.and {
		return precAnd
	}
	return precOr
}

func (n *logical) format(b *strings.Builder) {
	p := n.prec()
	writeOperand(b, n.l, p)
	if n.and {
		b.WriteString(" AND ")
	} else {
		b.WriteString(" OR ")
	}
	writeOperand(b, n.r, p+1)
}

// not is NOT.
type not struct{ x node }

func (n *not) prec() int { return precNot }

func (n *not) format(b *strings.Builder) {
	b.WriteString("NOT ")
	writeOperand(b, n.x, precNot)
}

// in is [NOT] IN (list).
type in struct {
	x    node
	list []node
	neg  bool
}

func (n *in) prec() int { return precPred }

func (n *in) format(b *strings.Builder) {
	writeOperand(b, n.x, precAdd)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i, e := range n.list {
		if i > 0 {
			b.WriteString(", ")
		}
		writeOperand(b, e, precAdd)
	}
	b.WriteByte(')')
}

// like is [NOT] LIKE pattern [ESCAPE char].
type like struct {
	x, pattern, escape node // escape may be nil
	neg                bool
	// compiled is the pattern compiled once at parse time, when the
	// pattern and the escape are literals that compile; nil otherwise, and
	// then eval compiles the pattern per message (and reports its errors).
	compiled []likeElem
}

// precompile compiles n's pattern once when it cannot change from one
// message to the next: a string literal, with no escape or a
// one-character string literal as the escape. Anything else (a property, an
// expression, a pattern that does not compile) is left to eval.
func (n *like) precompile() {
	pat, ok := n.pattern.(*literal)
	if !ok || pat.v.k != kString {
		return
	}
	escape, hasEscape := rune(0), false
	if n.escape != nil {
		esc, ok := n.escape.(*literal)
		if !ok || esc.v.k != kString || utf8.RuneCountInString(esc.v.s) != 1 {
			return
		}
		escape, _ = utf8.DecodeRuneInString(esc.v.s)
		hasEscape = true
	}
	elems, err := compileLike(pat.v.s, escape, hasEscape)
	if err != nil {
		return
	}
	if elems == nil {
		elems = []likeElem{} // the empty pattern, compiled: matches only ""
	}
	n.compiled = elems
}

func (n *like) prec() int { return precPred }

func (n *like) format(b *strings.Builder) {
	writeOperand(b, n.x, precAdd)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" LIKE ")
	writeOperand(b, n.pattern, precAdd)
	if n.escape != nil {
		b.WriteString(" ESCAPE ")
		writeOperand(b, n.escape, precAdd)
	}
}

// isNull is IS [NOT] NULL.
type isNull struct {
	x   node
	neg bool
}

func (n *isNull) prec() int { return precPred }

func (n *isNull) format(b *strings.Builder) {
	writeOperand(b, n.x, precAdd)
	if n.neg {
		b.WriteString(" IS NOT NULL")
	} else {
		b.WriteString(" IS NULL")
	}
}

// exists is EXISTS(property).
type exists struct{ p *prop }

func (n *exists) prec() int { return precPrimary }

func (n *exists) format(b *strings.Builder) {
	b.WriteString("EXISTS(")
	n.p.format(b)
	b.WriteByte(')')
}

// call is a function: newid(), property(name) or p(name).
type call struct {
	name string // lower case
	args []node
}

func (n *call) prec() int { return precPrimary }

func (n *call) format(b *strings.Builder) {
	b.WriteString(n.name)
	b.WriteByte('(')
	for i, a := range n.args {
		if i > 0 {
			b.WriteString(", ")
		}
		a.format(b)
	}
	b.WriteByte(')')
}

// walk calls f for n and every node below it, parents first, operands
// left to right.
func walk(n node, f func(node)) {
	if n == nil {
		return
	}
	f(n)
	switch n := n.(type) {
	case *unary:
		walk(n.x, f)
	case *arith:
		walk(n.l, f)
		walk(n.r, f)
	case *compare:
		walk(n.l, f)
		walk(n.r, f)
	case *logical:
		walk(n.l, f)
		walk(n.r, f)
	case *not:
		walk(n.x, f)
	case *in:
		walk(n.x, f)
		for _, e := range n.list {
			walk(e, f)
		}
	case *like:
		walk(n.x, f)
		walk(n.pattern, f)
		if n.escape != nil {
			walk(n.escape, f)
		}
	case *isNull:
		walk(n.x, f)
	case *exists:
		walk(n.p, f)
	case *call:
		for _, a := range n.args {
			walk(a, f)
		}
	}
}

// sysNames collects the keys of the system properties named in nodes, once
// each, in order of first appearance.
type sysNames struct {
	seen  map[string]bool
	names []string
}

func (s *sysNames) add(n node) {
	p, ok := n.(*prop)
	if !ok || p.scope != scopeSys || s.seen[p.key] {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[p.key] = true
	s.names = append(s.names, p.key)
}
