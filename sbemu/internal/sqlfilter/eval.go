package sqlfilter

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// evalErr returns an *EvalError with a formatted message.
func evalErr(format string, args ...any) error {
	return &EvalError{Msg: fmt.Sprintf(format, args...)}
}

func (n *literal) eval(Message) (value, error) { return n.v, nil }

// eval reads the property. A system property the message does not have
// is an error; a user property it does not have is unknown (NULL).
func (n *prop) eval(m Message) (value, error) {
	if n.scope == scopeSys {
		v, ok := m.System(n.key)
		if !ok {
			return null, evalErr("sys.%s is not a system property", n.name)
		}
		return fromGo(v), nil
	}
	v, ok := m.User(n.key)
	if !ok {
		return null, nil
	}
	return fromGo(v), nil
}

func (n *unary) eval(m Message) (value, error) {
	x, err := n.x.eval(m)
	if err != nil || x.k == kNull {
		return null, err
	}
	switch {
	case x.k == kInt && n.op == "-":
		return intValue(-x.i), nil // wraps for math.MinInt64, as C# unchecked does
	case x.k == kFloat && n.op == "-":
		return floatValue(-x.f), nil
	case x.numeric():
		return x, nil
	}
	return null, evalErr("unary %s cannot be applied to %s", n.op, x.typeName())
}

func (n *arith) eval(m Message) (value, error) {
	l, err := n.l.eval(m)
	if err != nil {
		return null, err
	}
	r, err := n.r.eval(m)
	if err != nil {
		return null, err
	}
	return arithValues(n.op, l, r)
}

// arithValues applies a binary arithmetic operator with C#'s promotions:
// two integers give an integer (wrapping on overflow, as unchecked C#
// does; dividing by zero is an error), an integer and a double give a
// double, and + joins two strings.
func arithValues(op string, l, r value) (value, error) {
	if l.k == kNull || r.k == kNull {
		return null, nil
	}
	if op == "+" && l.k == kString && r.k == kString {
		return stringValue(l.s + r.s), nil
	}
	if l.k == kInt && r.k == kInt {
		a, b := l.i, r.i
		switch op {
		case "+":
			return intValue(a + b), nil
		case "-":
			return intValue(a - b), nil
		case "*":
			return intValue(a * b), nil
		}
		if b == 0 {
			return null, evalErr("integer division by zero")
		}
		if a == math.MinInt64 && b == -1 {
			return null, evalErr("integer overflow in %d %s -1", a, op) // C# throws here too
		}
		if op == "/" {
			return intValue(a / b), nil
		}
		return intValue(a % b), nil
	}
	if l.numeric() && r.numeric() {
		a, b := l.asFloat(), r.asFloat()
		switch op {
		case "+":
			return floatValue(a + b), nil
		case "-":
			return floatValue(a - b), nil
		case "*":
			return floatValue(a * b), nil
		case "/":
			return floatValue(a / b), nil
		default:
			return floatValue(math.Mod(a, b)), nil
		}
	}
	return null, evalErr("operator %s cannot be applied to %s and %s", op, l.typeName(), r.typeName())
}

func (n *compare) eval(m Message) (value, error) {
	l, err := n.l.eval(m)
	if err != nil {
		return null, err
	}
	r, err := n.r.eval(m)
	if err != nil {
		return null, err
	}
	return compareValues(n.op, l, r)
}

// compareValues applies a comparison operator. Numbers compare by value
// whatever their kind; strings, booleans and datetimes compare only with
// their own kind; strings and booleans take only = and <> (C# defines no
// ordering operators on them). Any other pairing is an error.
func compareValues(op string, l, r value) (value, error) {
	if l.k == kNull || r.k == kNull {
		return null, nil
	}
	ordering := op != "=" && op != "<>" && op != "!="
	var c int
	switch {
	case l.k == kInt && r.k == kInt:
		c = cmp.Compare(l.i, r.i)
	case l.numeric() && r.numeric():
		a, b := l.asFloat(), r.asFloat()
		if math.IsNaN(a) || math.IsNaN(b) {
			// As in C#, NaN is unequal to everything, itself included.
			return boolValue(op == "<>" || op == "!="), nil
		}
		c = cmp.Compare(a, b)
	case l.k == kString && r.k == kString && !ordering:
		c = strings.Compare(l.s, r.s)
	case l.k == kBool && r.k == kBool && !ordering:
		if l.b != r.b {
			c = 1
		}
	case l.k == kTime && r.k == kTime:
		c = l.t.Compare(r.t)
	default:
		return null, evalErr("operator %s cannot compare %s with %s", op, l.typeName(), r.typeName())
	}
	switch op {
	case "=":
		return boolValue(c == 0), nil
	case "<>", "!=":
		return boolValue(c != 0), nil
	case ">":
		return boolValue(c > 0), nil
	case ">=":
		return boolValue(c >= 0), nil
	case "<":
		return boolValue(c < 0), nil
	default:
		return boolValue(c <= 0), nil
	}
}

// truth reads v as a three-valued boolean: known reports whether it is
// TRUE or FALSE rather than unknown.
func truth(v value, op string) (b, known bool, err error) {
	switch v.k {
	case kBool:
		return v.b, true, nil
	case kNull:
		return false, false, nil
	}
	return false, false, evalErr("operand of %s is %s, not a boolean", op, v.typeName())
}

// eval implements SQL's three-valued AND and OR, as tabled in the Service
// Bus documentation. The right operand is not evaluated when the left one
// decides the result.
func (n *logical) eval(m Message) (value, error) {
	op := "OR"
	if n.and {
		op = "AND"
	}
	l, err := n.l.eval(m)
	if err != nil {
		return null, err
	}
	lb, lk, err := truth(l, op)
	if err != nil {
		return null, err
	}
	if lk && lb != n.and { // FALSE AND x, TRUE OR x
		return boolValue(lb), nil
	}
	r, err := n.r.eval(m)
	if err != nil {
		return null, err
	}
	rb, rk, err := truth(r, op)
	if err != nil {
		return null, err
	}
	if rk && rb != n.and {
		return boolValue(rb), nil
	}
	if !lk || !rk {
		return null, nil
	}
	return boolValue(n.and), nil
}

func (n *not) eval(m Message) (value, error) {
	x, err := n.x.eval(m)
	if err != nil {
		return null, err
	}
	b, known, err := truth(x, "NOT")
	if err != nil || !known {
		return null, err
	}
	return boolValue(!b), nil
}

// negate applies NOT to a three-valued result when neg is set.
func negate(v value, neg bool) value {
	if neg && v.k == kBool {
		return boolValue(!v.b)
	}
	return v
}

// eval is unknown when the left operand is unknown (as documented); true
// when it equals an element; otherwise unknown if an element was unknown
// (as SQL-92 has it; the Service Bus documentation is silent), else false.
func (n *in) eval(m Message) (value, error) {
	x, err := n.x.eval(m)
	if err != nil || x.k == kNull {
		return null, err
	}
	sawNull := false
	for _, e := range n.list {
		v, err := e.eval(m)
		if err != nil {
			return null, err
		}
		if v.k == kNull {
			sawNull = true
			continue
		}
		eq, err := compareValues("=", x, v)
		if err != nil {
			return null, err
		}
		if eq.b {
			return negate(boolValue(true), n.neg), nil
		}
	}
	if sawNull {
		return null, nil
	}
	return negate(boolValue(false), n.neg), nil
}

func (n *like) eval(m Message) (value, error) {
	x, err := n.x.eval(m)
	if err != nil {
		return null, err
	}
	if n.compiled != nil {
		switch {
		case x.k == kNull:
			return null, nil
		case x.k != kString:
			return null, evalErr("LIKE cannot be applied to %s", x.typeName())
		}
		return negate(boolValue(matchLike([]rune(x.s), n.compiled)), n.neg), nil
	}
	pat, err := n.pattern.eval(m)
	if err != nil {
		return null, err
	}
	esc := null
	if n.escape != nil {
		if esc, err = n.escape.eval(m); err != nil {
			return null, err
		}
		if esc.k == kNull {
			return null, nil
		}
	}
	if x.k == kNull || pat.k == kNull {
		return null, nil
	}
	if x.k != kString {
		return null, evalErr("LIKE cannot be applied to %s", x.typeName())
	}
	if pat.k != kString {
		return null, evalErr("LIKE pattern is %s, not a string", pat.typeName())
	}
	escape, hasEscape := rune(0), false
	if n.escape != nil {
		if esc.k != kString || utf8.RuneCountInString(esc.s) != 1 {
			return null, evalErr("ESCAPE must be a string of one character")
		}
		escape, _ = utf8.DecodeRuneInString(esc.s)
		hasEscape = true
	}
	elems, err := compileLike(pat.s, escape, hasEscape)
	if err != nil {
		return null, err
	}
	return negate(boolValue(matchLike([]rune(x.s), elems)), n.neg), nil
}

// likeElem is one element of a compiled LIKE pattern.
type likeElem struct {
	kind byte // 'c': the character r; '_': any one character; '%': any run
	r    rune
}

// compileLike turns a LIKE pattern into elements. The escape character
// makes the character after it literal; at the end of the pattern it is an
// error. Only % and _ are wildcards: [ ] have no special meaning.
func compileLike(pat string, escape rune, hasEscape bool) ([]likeElem, error) {
	var out []likeElem
	rs := []rune(pat)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case hasEscape && r == escape:
			if i+1 == len(rs) {
				return nil, evalErr("LIKE pattern ends with its escape character")
			}
			i++
			out = append(out, likeElem{kind: 'c', r: rs[i]})
		case r == '%':
			if len(out) == 0 || out[len(out)-1].kind != '%' {
				out = append(out, likeElem{kind: '%'})
			}
		case r == '_':
			out = append(out, likeElem{kind: '_'})
		default:
			out = append(out, likeElem{kind: 'c', r: r})
		}
	}
	return out, nil
}

// matchLike reports whether s matches the whole pattern. It backtracks
// only to the last %, so it runs in O(len(s)·len(elems)) at worst.
func matchLike(s []rune, elems []likeElem) bool {
	si, pi := 0, 0
	star, starS := -1, 0
	for si < len(s) {
		switch {
		case pi < len(elems) && (elems[pi].kind == '_' || elems[pi].kind == 'c' && elems[pi].r == s[si]):
			si++
			pi++
		case pi < len(elems) && elems[pi].kind == '%':
			star, starS = pi, si
			pi++
		case star >= 0:
			starS++
			si, pi = starS, star+1
		default:
			return false
		}
	}
	for pi < len(elems) && elems[pi].kind == '%' {
		pi++
	}
	return pi == len(elems)
}

func (n *isNull) eval(m Message) (value, error) {
	x, err := n.x.eval(m)
	if err != nil {
		return null, err
	}
	return boolValue((x.k == kNull) != n.neg), nil
}

// eval is true for a user property the message has, whatever its value,
// and for a system property that is set (not NULL). Naming a system
// property that does not exist is an error, as everywhere else.
func (n *exists) eval(m Message) (value, error) {
	if n.p.scope == scopeSys {
		v, err := n.p.eval(m)
		if err != nil {
			return null, err
		}
		return boolValue(v.k != kNull), nil
	}
	_, ok := m.User(n.p.key)
	return boolValue(ok), nil
}

func (n *call) eval(m Message) (value, error) {
	if n.name == "newid" {
		return stringValue(newID()), nil
	}
	arg, err := n.args[0].eval(m)
	if err != nil || arg.k == kNull {
		return null, err
	}
	if arg.k != kString {
		return null, evalErr("%s() takes a string, not %s", n.name, arg.typeName())
	}
	sc, name := scopeUser, arg.s
	if len(name) > 4 && foldEq(name[:4], "sys.") {
		sc, name = scopeSys, name[4:]
	} else if len(name) > 5 && foldEq(name[:5], "user.") {
		name = name[5:]
	}
	return newProp(sc, name).eval(m)
}

// newID returns a random (version 4) UUID in its usual text form.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
