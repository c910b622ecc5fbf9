package sqlfilter

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on what a rule may contain. MaxLength is Service Bus's own limit
// ("Maximum length of filter condition string: 1,024", and the same for a
// rule action string; "Maximum number of expressions per rule action: 32"
// — https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas).
// MaxDepth is ours: it bounds the recursion of the parser and of the
// evaluator, so that a hostile rule cannot exhaust the stack.
const (
	// MaxLength is the longest filter or action accepted, in characters.
	MaxLength = 1024
	// MaxDepth is the deepest nesting of parentheses, NOT and unary signs
	// accepted.
	MaxDepth = 64
	// MaxStatements is the most SET and REMOVE statements an action may hold.
	MaxStatements = 32
)

// parser is a recursive-descent parser over the tokens of one expression.
type parser struct {
	toks  []token
	i     int
	depth int // current nesting, bounded by MaxDepth
}

// newParser checks that src is UTF-8 of at most limit characters (0: any)
// and lexes it.
func newParser(src string, limit int) (*parser, *SyntaxError) {
	if !utf8.ValidString(src) {
		return nil, &SyntaxError{Pos: 1, Msg: "expression is not valid UTF-8"}
	}
	runes := []rune(src)
	if limit > 0 && len(runes) > limit {
		return nil, &SyntaxError{Pos: limit + 1, Msg: "expression is longer than " + strconv.Itoa(limit) + " characters"}
	}
	toks, err := lex(runes)
	if err != nil {
		return nil, err
	}
	return &parser{toks: toks}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// isOp reports whether the next token is the operator op.
func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == op
}

// isWord reports whether the next token is the keyword kw, in any case.
func (p *parser) isWord(kw string) bool {
	t := p.peek()
	return t.kind == tWord && foldEq(t.text, kw)
}

// errorAt returns a syntax error at t.
func errorAt(t token, msg string) *SyntaxError { return &SyntaxError{Pos: t.pos, Msg: msg} }

// describe renders t for "unexpected ..." messages.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string constant"
	case tQuoted:
		return "identifier " + strconv.Quote(t.text)
	case tWord:
		if isKeyword(t.text) {
			return strings.ToUpper(t.text)
		}
		return "identifier " + strconv.Quote(t.text)
	default:
		return strconv.Quote(t.text)
	}
}

// expectOp consumes the operator op or fails.
func (p *parser) expectOp(op string) *SyntaxError {
	if !p.isOp(op) {
		return errorAt(p.peek(), "expected "+strconv.Quote(op)+", found "+describe(p.peek()))
	}
	p.next()
	return nil
}

// enter counts one level of nesting at t.
func (p *parser) enter(t token) *SyntaxError {
	p.depth++
	if p.depth > MaxDepth {
		return errorAt(t, "nested more than "+strconv.Itoa(MaxDepth)+" levels deep")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// condition parses an expression that must be a condition.
func (p *parser) condition() (node, *SyntaxError) {
	t := p.peek()
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if !isCondition(n) {
		return nil, errorAt(t, "expected a condition, found a value")
	}
	return n, nil
}

// operandCondition checks that n, which starts at t, can be an operand of
// AND, OR or NOT.
func operandCondition(n node, t token, op string) *SyntaxError {
	if !isCondition(n) {
		return errorAt(t, "operand of "+op+" must be a condition")
	}
	return nil
}

// or parses: and { OR and }.
func (p *parser) or() (node, *SyntaxError) {
	t := p.peek()
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("OR") {
		if err := operandCondition(l, t, "OR"); err != nil {
			return nil, err
		}
		p.next()
		rt := p.peek()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		if err := operandCondition(r, rt, "OR"); err != nil {
			return nil, err
		}
		l = &logical{l: l, r: r}
	}
	return l, nil
}

// and parses: not { AND not }.
func (p *parser) and() (node, *SyntaxError) {
	t := p.peek()
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isWord("AND") {
		if err := operandCondition(l, t, "AND"); err != nil {
			return nil, err
		}
		p.next()
		rt := p.peek()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		if err := operandCondition(r, rt, "AND"); err != nil {
			return nil, err
		}
		l = &logical{and: true, l: l, r: r}
	}
	return l, nil
}

// not parses: NOT not | predicate.
func (p *parser) not() (node, *SyntaxError) {
	if !p.isWord("NOT") {
		return p.predicate()
	}
	t := p.next()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	xt := p.peek()
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	if err := operandCondition(x, xt, "NOT"); err != nil {
		return nil, err
	}
	return &not{x: x}, nil
}

// mustBeValue checks that n, which starts at t, is a value and not a condition.
func mustBeValue(n node, t token) *SyntaxError {
	if isPredicate(n) {
		return errorAt(t, "a condition cannot be used as a value")
	}
	return nil
}

// predicate parses an additive expression optionally followed by one
// comparison, [NOT] IN, [NOT] LIKE or IS [NOT] NULL.
func (p *parser) predicate() (node, *SyntaxError) {
	lt := p.peek()
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tOp && isComparison(t.text):
		if err := mustBeValue(l, lt); err != nil {
			return nil, err
		}
		p.next()
		r, err := p.valueExpr()
		if err != nil {
			return nil, err
		}
		return &compare{op: t.text, l: l, r: r}, nil
	case p.isWord("IS"):
		if err := mustBeValue(l, lt); err != nil {
			return nil, err
		}
		p.next()
		neg := false
		if p.isWord("NOT") {
			p.next()
			neg = true
		}
		if !p.isWord("NULL") {
			return nil, errorAt(p.peek(), "expected NULL, found "+describe(p.peek()))
		}
		p.next()
		return &isNull{x: l, neg: neg}, nil
	case p.isWord("IN"), p.isWord("LIKE"), p.isWord("NOT"):
		if err := mustBeValue(l, lt); err != nil {
			return nil, err
		}
		neg := false
		if p.isWord("NOT") {
			p.next()
			neg = true
			if !p.isWord("IN") && !p.isWord("LIKE") {
				return nil, errorAt(p.peek(), "expected IN or LIKE after NOT, found "+describe(p.peek()))
			}
		}
		if p.isWord("IN") {
			p.next()
			return p.inList(l, neg)
		}
		p.next()
		pat, err := p.valueExpr()
		if err != nil {
			return nil, err
		}
		n := &like{x: l, pattern: pat, neg: neg}
		if p.isWord("ESCAPE") {
			p.next()
			if n.escape, err = p.valueExpr(); err != nil {
				return nil, err
			}
		}
		n.precompile()
		return n, nil
	}
	return l, nil
}

func isComparison(op string) bool {
	switch op {
	case "=", "<>", "!=", ">", ">=", "<", "<=":
		return true
	}
	return false
}

// inList parses the parenthesised list of [NOT] IN.
func (p *parser) inList(x node, neg bool) (node, *SyntaxError) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	n := &in{x: x, neg: neg}
	for {
		e, err := p.valueExpr()
		if err != nil {
			return nil, err
		}
		n.list = append(n.list, e)
		if p.isOp(",") {
			p.next()
			continue
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return n, nil
	}
}

// valueExpr parses an additive expression that must be a value.
func (p *parser) valueExpr() (node, *SyntaxError) {
	t := p.peek()
	n, err := p.additive()
	if err != nil {
		return nil, err
	}
	if err := mustBeValue(n, t); err != nil {
		return nil, err
	}
	return n, nil
}

// additive parses: multiplicative { (+|-) multiplicative }.
func (p *parser) additive() (node, *SyntaxError) {
	lt := p.peek()
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		if err := mustBeValue(l, lt); err != nil {
			return nil, err
		}
		op := p.next().text
		r, err := p.valueOperand(p.multiplicative)
		if err != nil {
			return nil, err
		}
		l = &arith{op: op, l: l, r: r}
	}
	return l, nil
}

// multiplicative parses: unary { (*|/|%) unary }.
func (p *parser) multiplicative() (node, *SyntaxError) {
	lt := p.peek()
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("%") {
		if err := mustBeValue(l, lt); err != nil {
			return nil, err
		}
		op := p.next().text
		r, err := p.valueOperand(p.unary)
		if err != nil {
			return nil, err
		}
		l = &arith{op: op, l: l, r: r}
	}
	return l, nil
}

// valueOperand parses with f and checks the result is a value.
func (p *parser) valueOperand(f func() (node, *SyntaxError)) (node, *SyntaxError) {
	t := p.peek()
	n, err := f()
	if err != nil {
		return nil, err
	}
	if err := mustBeValue(n, t); err != nil {
		return nil, err
	}
	return n, nil
}

// unary parses: (+|-) unary | primary. A sign directly before a number
// constant is folded into it, which is also how -9223372036854775808 fits
// an int64.
func (p *parser) unary() (node, *SyntaxError) {
	if !p.isOp("+") && !p.isOp("-") {
		return p.primary()
	}
	t := p.next()
	if nt := p.peek(); nt.kind == tInt || nt.kind == tFloat {
		p.next()
		text := nt.text
		if t.text == "-" {
			text = "-" + text
		}
		return number(nt, text)
	}
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.valueOperand(p.unary)
	if err != nil {
		return nil, err
	}
	return &unary{op: t.text, x: x}, nil
}

// number converts the text of a number constant.
func number(t token, text string) (node, *SyntaxError) {
	if t.kind == tInt {
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, errorAt(t, "integer constant "+text+" is out of the range of a 64-bit integer")
		}
		return &literal{v: intValue(i)}, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, errorAt(t, "number constant "+text+" is out of the range of a double")
	}
	return &literal{v: floatValue(f)}, nil
}

// primary parses a constant, property, function, EXISTS or parenthesised
// expression.
func (p *parser) primary() (node, *SyntaxError) {
	t := p.peek()
	switch t.kind {
	case tInt, tFloat:
		p.next()
		return number(t, t.text)
	case tString:
		p.next()
		return &literal{v: stringValue(t.text)}, nil
	case tQuoted:
		return p.property()
	case tOp:
		if t.text == "(" {
			p.next()
			if err := p.enter(t); err != nil {
				return nil, err
			}
			defer p.leave()
			n, err := p.or()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return n, nil
		}
	case tWord:
		switch {
		case foldEq(t.text, "TRUE"):
			p.next()
			return &literal{v: boolValue(true)}, nil
		case foldEq(t.text, "FALSE"):
			p.next()
			return &literal{v: boolValue(false)}, nil
		case foldEq(t.text, "NULL"):
			p.next()
			return &literal{v: null}, nil
		case foldEq(t.text, "EXISTS"):
			p.next()
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			pr, err := p.property()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &exists{p: pr}, nil
		}
		if isKeyword(t.text) {
			break
		}
		if p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "(" {
			return p.function()
		}
		return p.property()
	}
	return nil, errorAt(t, "expected a value, found "+describe(t))
}

// function parses newid(), property(expr) or p(expr).
func (p *parser) function() (node, *SyntaxError) {
	t := p.next()
	p.next() // (
	n := &call{}
	switch {
	case foldEq(t.text, "newid"):
		n.name = "newid"
	case foldEq(t.text, "property"), foldEq(t.text, "p"):
		n.name = strings.ToLower(t.text)
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		arg, err := p.valueExpr()
		if err != nil {
			return nil, err
		}
		n.args = []node{arg}
	default:
		return nil, errorAt(t, "unknown function "+strconv.Quote(t.text))
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return n, nil
}

// property parses [scope .] name, where scope is sys or user in any case.
func (p *parser) property() (*prop, *SyntaxError) {
	t := p.next()
	if t.kind != tWord && t.kind != tQuoted || t.kind == tWord && isKeyword(t.text) {
		return nil, errorAt(t, "expected a property name, found "+describe(t))
	}
	if t.kind == tWord && p.isOp(".") {
		var sc scope
		switch {
		case foldEq(t.text, "sys"):
			sc = scopeSys
		case foldEq(t.text, "user"):
			sc = scopeUser
		default:
			return nil, errorAt(t, "unknown scope "+strconv.Quote(t.text)+" (want sys or user)")
		}
		p.next()
		nt := p.next()
		if nt.kind != tWord && nt.kind != tQuoted || nt.kind == tWord && isKeyword(nt.text) {
			return nil, errorAt(nt, "expected a property name after "+strconv.Quote(t.text+".")+", found "+describe(nt))
		}
		return newProp(sc, nt.text), nil
	}
	return newProp(scopeUser, t.text), nil
}

// newProp returns a property reference.
func newProp(sc scope, name string) *prop {
	key := name
	if sc == scopeSys {
		key = strings.ToLower(name)
	}
	return &prop{scope: sc, name: name, key: key}
}

// end checks that the whole input was consumed.
func (p *parser) end() *SyntaxError {
	if t := p.peek(); t.kind != tEOF {
		return errorAt(t, "unexpected "+describe(t))
	}
	return nil
}
