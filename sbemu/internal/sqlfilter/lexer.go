package sqlfilter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// tokKind is the class of a token.
type tokKind int

const (
	tEOF    tokKind = iota
	tWord           // a regular identifier or keyword; text is as written
	tQuoted         // a delimited ([...]) or quoted ("...") identifier; text is unescaped
	tString         // a string constant; text is unescaped
	tInt            // an integer constant; text is the digits
	tFloat          // a decimal or approximate constant; text as written
	tOp             // an operator or punctuation; text is the operator
)

// token is one lexical token. pos is the 1-based position, in characters,
// of its first character.
type token struct {
	kind tokKind
	text string
	pos  int
}

// keywords are the reserved words: a regular identifier cannot be one of
// them (write [Not] for a property called Not). SET and REMOVE are
// reserved in filters too, so that one list serves both languages.
var keywords = []string{
	"AND", "OR", "NOT", "IN", "LIKE", "ESCAPE", "IS", "NULL",
	"TRUE", "FALSE", "EXISTS", "SET", "REMOVE",
}

// isKeyword reports whether word is a reserved word, in any case.
func isKeyword(word string) bool {
	for _, k := range keywords {
		if foldEq(word, k) {
			return true
		}
	}
	return false
}

// foldEq reports whether a equals b ignoring ASCII case only. Keywords,
// scopes and function names are ASCII, so that no Unicode case folding
// (ſ for s, K for k) turns an identifier into a keyword.
func foldEq(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// isRegularIdent reports whether s can be written as a regular identifier:
// a letter followed by letters, digits and underscores, and not a keyword.
func isRegularIdent(s string) bool {
	if s == "" || isKeyword(s) {
		return false
	}
	for i, r := range s {
		if i == 0 && !unicode.IsLetter(r) {
			return false
		}
		if !isIdentRune(r) {
			return false
		}
	}
	return true
}

// isIdentRune reports whether r may follow the first letter of a regular
// identifier: [_[:IsLetter:][:IsDigit:]] in the documented grammar.
func isIdentRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isDecimal reports whether r is an ASCII digit. Numeric constants use
// ASCII digits only, so that strconv can read them.
func isDecimal(r rune) bool { return r >= '0' && r <= '9' }

// lex splits src into tokens, ending with a tEOF token.
func lex(src []rune) ([]token, *SyntaxError) {
	var toks []token
	i := 0
	for {
		for i < len(src) && unicode.IsSpace(src[i]) {
			i++
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: len(src) + 1})
			return toks, nil
		}
		start := i
		r := src[i]
		switch {
		case unicode.IsLetter(r):
			for i < len(src) && isIdentRune(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tWord, text: string(src[start:i]), pos: start + 1})
		case isDecimal(r) || (r == '.' && i+1 < len(src) && isDecimal(src[i+1])):
			kind := tInt
			for i < len(src) && isDecimal(src[i]) {
				i++
			}
			if i < len(src) && src[i] == '.' {
				kind = tFloat
				i++
				for i < len(src) && isDecimal(src[i]) {
					i++
				}
			}
			if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
				kind = tFloat
				i++
				if i < len(src) && (src[i] == '+' || src[i] == '-') {
					i++
				}
				if i >= len(src) || !isDecimal(src[i]) {
					return nil, &SyntaxError{Pos: i + 1, Msg: "expected a digit in the exponent"}
				}
				for i < len(src) && isDecimal(src[i]) {
					i++
				}
			}
			if i < len(src) && isIdentRune(src[i]) {
				return nil, &SyntaxError{Pos: i + 1, Msg: "unexpected " + quoteRune(src[i]) + " after a number"}
			}
			toks = append(toks, token{kind: kind, text: string(src[start:i]), pos: start + 1})
		case r == '\'':
			s, next, err := lexDelimited(src, i, '\'', "string constant")
			if err != nil {
				return nil, err
			}
			i = next
			toks = append(toks, token{kind: tString, text: s, pos: start + 1})
		case r == '[' || r == '"':
			closer, what := ']', "delimited identifier"
			if r == '"' {
				closer, what = '"', "quoted identifier"
			}
			s, next, err := lexDelimited(src, i, closer, what)
			if err != nil {
				return nil, err
			}
			if s == "" {
				return nil, &SyntaxError{Pos: start + 1, Msg: "empty " + what}
			}
			i = next
			toks = append(toks, token{kind: tQuoted, text: s, pos: start + 1})
		default:
			op := ""
			two := ""
			if i+1 < len(src) {
				two = string(src[i : i+2])
			}
			switch two {
			case "<>", "!=", "<=", ">=":
				op = two
			default:
				if strings.ContainsRune("=<>+-*/%(),;.", r) {
					op = string(r)
				}
			}
			if op == "" {
				return nil, &SyntaxError{Pos: start + 1, Msg: "unexpected " + quoteRune(r)}
			}
			i += len([]rune(op))
			toks = append(toks, token{kind: tOp, text: op, pos: start + 1})
		}
	}
}

// lexDelimited reads a constant or identifier that starts at src[i] (the
// opening character) and ends at closer, where a doubled closer stands for
// one. It returns the unescaped text and the index after the closer.
func lexDelimited(src []rune, i int, closer rune, what string) (string, int, *SyntaxError) {
	start := i
	var b strings.Builder
	i++
	for {
		if i >= len(src) {
			return "", 0, &SyntaxError{Pos: start + 1, Msg: "unterminated " + what}
		}
		if src[i] == closer {
			if i+1 < len(src) && src[i+1] == closer {
				b.WriteRune(closer)
				i += 2
				continue
			}
			return b.String(), i + 1, nil
		}
		b.WriteRune(src[i])
		i++
	}
}

// quoteRune renders r for an error message.
func quoteRune(r rune) string {
	if unicode.IsPrint(r) {
		return strconv.QuoteRune(r)
	}
	return fmt.Sprintf("U+%04X", r)
}
