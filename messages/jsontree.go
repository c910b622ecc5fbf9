package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays accepted in a body.
// The top-level object is depth 1.
const MaxDepth = 32

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// jsonObject is a decoded JSON object with its keys kept unique.
type jsonObject map[string]any

// parseObject checks body against the structural rules of the contract and
// returns its top-level object. Values inside are jsonObject, []any, string,
// json.Number, bool or nil.
//
// It walks encoding/json's Decoder.Token stream with an explicit stack, so
// nesting costs no Go stack and is refused as soon as it passes MaxDepth;
// duplicate keys (compared after unescaping) are refused at any level.
func parseObject(body []byte) (jsonObject, *InvalidError) {
	if len(body) > MaxBodySize {
		return nil, invalid(FieldBody, fmt.Sprintf("is %d bytes, more than the %d-byte limit", len(body), MaxBodySize))
	}
	if bytes.HasPrefix(body, utf8BOM) {
		return nil, invalid(FieldBody, "starts with a UTF-8 byte order mark")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid(FieldBody, "is empty")
	}
	if !utf8.Valid(body) {
		return nil, invalid(FieldBody, "is not valid UTF-8")
	}
	root, err := walk(body)
	if err != nil {
		return nil, err
	}
	// Defence in depth: the token walk already rejected malformed input, and
	// json.Valid's scanner is iterative, so this cannot overflow the stack.
	if !json.Valid(body) {
		return nil, invalid(FieldBody, "is not valid JSON")
	}
	obj, ok := root.(jsonObject)
	if !ok {
		return nil, invalid(FieldBody, "holds "+kindOf(root)+", not a JSON object")
	}
	return obj, nil
}

// frame is one open container during the walk.
type frame struct {
	obj     jsonObject
	arr     []any
	key     string // pending key in obj; valid when haveKey
	isObj   bool
	haveKey bool
}

func walk(body []byte) (any, *InvalidError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()

	var (
		stack []*frame
		root  any
		done  bool
	)
	// place stores a finished value in the enclosing container (or as root).
	place := func(v any) {
		if len(stack) == 0 {
			root, done = v, true
			return
		}
		top := stack[len(stack)-1]
		if top.isObj {
			top.obj[top.key] = v
			top.haveKey = false
			return
		}
		top.arr = append(top.arr, v)
	}

	for !done {
		offset := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxProblem(err, offset)
		}
		// An object key arrives as a string token while the top frame is an
		// object waiting for a key.
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.isObj && !top.haveKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					place(top.obj)
					continue
				}
				key, ok := tok.(string)
				if !ok {
					return nil, invalid(FieldBody, fmt.Sprintf("is not valid JSON (near byte %d)", offset))
				}
				if _, dup := top.obj[key]; dup {
					return nil, invalid(FieldBody, "has duplicate key "+excerpt(key))
				}
				top.key, top.haveKey = key, true
				continue
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= MaxDepth {
					return nil, invalid(FieldBody, fmt.Sprintf("nests deeper than %d levels", MaxDepth))
				}
				f := &frame{isObj: t == '{'}
				if f.isObj {
					f.obj = jsonObject{}
				} else {
					f.arr = []any{}
				}
				stack = append(stack, f)
			case ']':
				if len(stack) == 0 || stack[len(stack)-1].isObj {
					return nil, invalid(FieldBody, fmt.Sprintf("is not valid JSON (near byte %d)", offset))
				}
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				place(top.arr)
			default: // '}' is handled above; the decoder never yields it elsewhere
				return nil, invalid(FieldBody, fmt.Sprintf("is not valid JSON (near byte %d)", offset))
			}
		default:
			place(t)
		}
	}
	// Nothing but white space may follow the value.
	offset := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid(FieldBody, fmt.Sprintf("has data after the JSON value (near byte %d)", offset))
	}
	return root, nil
}

func syntaxProblem(err error, offset int64) *InvalidError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid(FieldBody, "is truncated JSON")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		offset = se.Offset
	}
	// The decoder's own message may quote input; report only the offset.
	return invalid(FieldBody, fmt.Sprintf("is not valid JSON (near byte %d)", offset))
}

// kindOf names the JSON kind of a decoded value, for error messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case jsonObject:
		return "an object"
	}
	return "an unknown value"
}
