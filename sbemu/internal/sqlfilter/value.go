package sqlfilter

import (
	"fmt"
	"math"
	"reflect"
	"time"
)

// kind is the type of a value during evaluation.
type kind int

const (
	kNull   kind = iota // NULL, or the unknown value of a missing property
	kBool               // bool
	kInt                // int64 (System.Int64)
	kFloat              // float64 (System.Double)
	kString             // string
	kTime               // time.Time (System.DateTime)
	kOther              // any other Go value; only IS NULL and EXISTS can use it
)

// value is one evaluated operand.
type value struct {
	k   kind
	b   bool
	i   int64
	f   float64
	s   string
	t   time.Time
	raw any // the Go value of a kOther
}

var null = value{}

func boolValue(b bool) value     { return value{k: kBool, b: b} }
func intValue(i int64) value     { return value{k: kInt, i: i} }
func floatValue(f float64) value { return value{k: kFloat, f: f} }
func stringValue(s string) value { return value{k: kString, s: s} }

// typeName names k in error messages.
func (k kind) typeName() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kInt:
		return "integer"
	case kFloat:
		return "double"
	case kString:
		return "string"
	case kTime:
		return "datetime"
	default:
		return "unsupported type"
	}
}

// typeName names the type of v, with its article, in error messages:
// "an integer", "a string", "a value of unsupported type []uint8".
func (v value) typeName() string {
	switch v.k {
	case kOther:
		return fmt.Sprintf("a value of unsupported type %T", v.raw)
	case kNull:
		return "null"
	case kInt:
		return "an integer"
	}
	return "a " + v.k.typeName()
}

// fromGo turns a property value into a value: every integer kind becomes
// an int64 (an unsigned one above math.MaxInt64 becomes a float64), every
// float kind a float64. Named types are read by their kind, so a
// time.Duration is read as its nanoseconds.
func fromGo(x any) value {
	switch x := x.(type) {
	case nil:
		return null
	case bool:
		return boolValue(x)
	case string:
		return stringValue(x)
	case int64:
		return intValue(x)
	case int:
		return intValue(int64(x))
	case int32:
		return intValue(int64(x))
	case float64:
		return floatValue(x)
	case time.Time:
		return value{k: kTime, t: x}
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Bool:
		return boolValue(rv.Bool())
	case reflect.String:
		return stringValue(rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intValue(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return floatValue(float64(u))
		}
		return intValue(int64(u))
	case reflect.Float32, reflect.Float64:
		return floatValue(rv.Float())
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		if rv.IsNil() {
			return null
		}
	}
	return value{k: kOther, raw: x}
}

// toGo turns v back into the Go value an action stores.
func (v value) toGo() any {
	switch v.k {
	case kBool:
		return v.b
	case kInt:
		return v.i
	case kFloat:
		return v.f
	case kString:
		return v.s
	case kTime:
		return v.t
	case kOther:
		return v.raw
	default:
		return nil
	}
}

// numeric reports whether v is an integer or a double.
func (v value) numeric() bool { return v.k == kInt || v.k == kFloat }

// asFloat returns a numeric v as a float64.
func (v value) asFloat() float64 {
	if v.k == kInt {
		return float64(v.i)
	}
	return v.f
}
