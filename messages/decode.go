package messages

import (
	"encoding/json"
	"fmt"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Raw is a received message as the decoder needs it, independent of any SDK.
type Raw struct {
	ContentType           string
	ApplicationProperties map[string]any
	Body                  []byte
}

// DecodeOptions tunes Decode. The zero value accepts any CloudEvent type.
type DecodeOptions struct {
	// CloudEventTypes, when non-empty, is the allow-list of CloudEvent types.
	CloudEventTypes []string
}

// MaxTextLength is the longest value, in characters, accepted for the
// optional free-text fields (correlationId, source, reason) and for the
// CloudEvent attributes id, source, type and subject.
const MaxTextLength = 256

// CloudEvents content modes, the values of CloudEvent.Mode.
const (
	ModeStructured = "structured"
	ModeBinary     = "binary"
)

// CloudEventsSpecVersion is the only CloudEvents specversion accepted.
const CloudEventsSpecVersion = "1.0"

// Prefixes of binary-mode CloudEvent application properties. The AMQP
// protocol binding of CloudEvents 1.0 names "cloudEvents:"; it also allows
// "cloudEvents_" for AMQP stacks that restrict property names, and Decode
// accepts both, with the prefix matched without regard to letter case.
const (
	CloudEventsPropertyPrefix    = "cloudEvents:"
	CloudEventsPropertyPrefixAlt = "cloudEvents_"
)

// Decode parses and validates a received message (plain JSON, or CloudEvents
// 1.0 structured or binary mode). Any failure is an *InvalidError.
//
// The content type selects the form: empty or application/json is a plain
// message, unless application properties with a CloudEvents prefix are
// present, which makes it a binary-mode CloudEvent whose body is the data;
// application/cloudevents+json is a structured-mode CloudEvent (any
// cloudEvents application properties are then ignored). A charset parameter,
// when present, must be utf-8. See the package documentation for the rules.
func Decode(raw Raw, opts DecodeOptions) (LicenseFixed, error) {
	m, err := decode(raw, opts)
	if err != nil {
		return LicenseFixed{}, err
	}
	return m, nil
}

func decode(raw Raw, opts DecodeOptions) (LicenseFixed, *InvalidError) {
	structured, err := parseContentType(raw.ContentType)
	if err != nil {
		return LicenseFixed{}, err
	}
	if structured {
		return decodeStructured(raw.Body, opts)
	}
	props, err := cloudEventProperties(raw.ApplicationProperties)
	if err != nil {
		return LicenseFixed{}, err
	}
	if props != nil {
		return decodeBinary(props, raw.Body, opts)
	}
	obj, err := parseObject(raw.Body)
	if err != nil {
		return LicenseFixed{}, err
	}
	return messageFrom(obj)
}

// parseContentType reports whether ct announces a structured CloudEvent, or
// refuses a content type that is neither JSON nor a CloudEvent.
func parseContentType(ct string) (structured bool, _ *InvalidError) {
	if strings.TrimSpace(ct) == "" {
		return false, nil
	}
	mt, ok := jsonMediaType(ct, true)
	if !ok {
		return false, invalid(FieldContentType, "is "+excerpt(ct)+", want application/json or application/cloudevents+json (charset utf-8)")
	}
	return mt == ContentTypeCloudEvent, nil
}

// jsonMediaType parses a media type and reports it when it is
// application/json (or, when allowCE, application/cloudevents+json) with no
// charset other than utf-8.
func jsonMediaType(ct string, allowCE bool) (string, bool) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", false
	}
	if mt == ContentTypeJSON || (allowCE && mt == ContentTypeCloudEvent) {
		return mt, true
	}
	return "", false
}

// cloudEventProperties collects binary-mode CloudEvent attributes from the
// application properties, keyed by lower-case attribute name. It returns nil
// when there are none.
func cloudEventProperties(props map[string]any) (map[string]any, *InvalidError) {
	var out map[string]any
	for k, v := range props {
		attr, ok := cutCloudEventsPrefix(k)
		if !ok {
			continue
		}
		attr = strings.ToLower(attr)
		if out == nil {
			out = map[string]any{}
		}
		if _, dup := out[attr]; dup {
			return nil, invalid(CloudEventsPropertyPrefix+safeAttrName(attr), "is given more than once (prefixes differ only in form or case)")
		}
		out[attr] = v
	}
	return out, nil
}

func cutCloudEventsPrefix(k string) (string, bool) {
	n := len(CloudEventsPropertyPrefix)
	if len(k) < n {
		return "", false
	}
	p := k[:n]
	if strings.EqualFold(p, CloudEventsPropertyPrefix) || strings.EqualFold(p, CloudEventsPropertyPrefixAlt) {
		return k[n:], true
	}
	return "", false
}

// safeAttrName renders an attribute name for InvalidError.Field: names
// outside the CloudEvents rules (lower-case letters and digits, at most 20)
// are replaced by a quoted excerpt.
func safeAttrName(attr string) string {
	if attr == "" || len(attr) > 20 {
		return excerpt(attr)
	}
	for i := 0; i < len(attr); i++ {
		if c := attr[i]; !('a' <= c && c <= 'z') && !('0' <= c && c <= '9') {
			return excerpt(attr)
		}
	}
	return attr
}

// ceFields names the fields of one CloudEvent mode in errors.
type ceFields struct {
	prefix string // "" for structured, "cloudEvents:" for binary
}

func (f ceFields) name(attr string) string { return f.prefix + attr }

func decodeBinary(props map[string]any, body []byte, opts DecodeOptions) (LicenseFixed, *InvalidError) {
	names := ceFields{prefix: CloudEventsPropertyPrefix}
	if v, ok := props[FieldDataContentType]; ok {
		s, isStr := v.(string)
		if !isStr {
			return LicenseFixed{}, invalid(names.name(FieldDataContentType), "is not a string")
		}
		if _, ok := jsonMediaType(s, false); !ok {
			return LicenseFixed{}, invalid(names.name(FieldDataContentType), "is "+excerpt(s)+", want application/json")
		}
	}
	ce, err := cloudEventFrom(func(attr string) (any, bool) {
		v, ok := props[attr]
		return v, ok
	}, names, opts)
	if err != nil {
		return LicenseFixed{}, err
	}
	ce.Mode = ModeBinary
	obj, err := parseObject(body)
	if err != nil {
		return LicenseFixed{}, err
	}
	m, err := messageFrom(obj)
	if err != nil {
		return LicenseFixed{}, err
	}
	m.CloudEvent = ce
	return m, nil
}

func decodeStructured(body []byte, opts DecodeOptions) (LicenseFixed, *InvalidError) {
	obj, err := parseObject(body)
	if err != nil {
		return LicenseFixed{}, err
	}
	if err := ambiguousKeys(obj, cloudEventAttrs); err != nil {
		return LicenseFixed{}, err
	}
	ce, err := cloudEventFrom(func(attr string) (any, bool) {
		v, ok := obj[attr]
		return v, ok
	}, ceFields{}, opts)
	if err != nil {
		return LicenseFixed{}, err
	}
	ce.Mode = ModeStructured
	if v, ok := obj[FieldDataContentType]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr {
			return LicenseFixed{}, invalid(FieldDataContentType, "is "+kindOf(v)+", want a string")
		}
		if _, ok := jsonMediaType(s, false); !ok {
			return LicenseFixed{}, invalid(FieldDataContentType, "is "+excerpt(s)+", want application/json")
		}
	}
	if _, ok := obj["data_base64"]; ok {
		return LicenseFixed{}, invalid(FieldData, "is given as data_base64; the data must be a JSON object in data")
	}
	v, ok := obj[FieldData]
	if !ok || v == nil {
		return LicenseFixed{}, invalid(FieldData, "is missing")
	}
	data, isObj := v.(jsonObject)
	if !isObj {
		return LicenseFixed{}, invalid(FieldData, "is "+kindOf(v)+", want an object")
	}
	m, err := messageFrom(data)
	if err != nil {
		return LicenseFixed{}, err
	}
	m.CloudEvent = ce
	return m, nil
}

// cloudEventAttrs are the context attributes this package reads.
var cloudEventAttrs = []string{
	FieldSpecVersion, FieldID, FieldSource, FieldType, FieldSubject, FieldTime,
	FieldDataContentType, FieldData, "data_base64",
}

// cloudEventFrom reads and checks the context attributes through get.
func cloudEventFrom(get func(string) (any, bool), names ceFields, opts DecodeOptions) (*CloudEvent, *InvalidError) {
	ce := &CloudEvent{}
	str := func(attr string, required bool) (string, *InvalidError) {
		v, ok := get(attr)
		if !ok || v == nil {
			if required {
				return "", invalid(names.name(attr), "is missing")
			}
			return "", nil
		}
		s, isStr := v.(string)
		if !isStr {
			return "", invalid(names.name(attr), "is "+valueKind(v)+", want a string")
		}
		if required && s == "" {
			return "", invalid(names.name(attr), "is empty")
		}
		if p := textProblem(s); p != "" {
			return "", invalid(names.name(attr), p)
		}
		return s, nil
	}
	var err *InvalidError
	if ce.SpecVersion, err = str(FieldSpecVersion, true); err != nil {
		return nil, err
	}
	if ce.SpecVersion != CloudEventsSpecVersion {
		return nil, invalid(names.name(FieldSpecVersion), "is "+excerpt(ce.SpecVersion)+", want \"1.0\"")
	}
	if ce.ID, err = str(FieldID, true); err != nil {
		return nil, err
	}
	if ce.Source, err = str(FieldSource, true); err != nil {
		return nil, err
	}
	if ce.Type, err = str(FieldType, true); err != nil {
		return nil, err
	}
	if len(opts.CloudEventTypes) > 0 && !slices.Contains(opts.CloudEventTypes, ce.Type) {
		return nil, invalid(names.name(FieldType), "is "+excerpt(ce.Type)+", which is not an allowed event type")
	}
	if ce.Subject, err = str(FieldSubject, false); err != nil {
		return nil, err
	}
	if v, ok := get(FieldTime); ok && v != nil {
		switch t := v.(type) {
		case time.Time: // an AMQP timestamp application property
			ce.Time = t
		case string:
			parsed, ok := parseTimestamp(t)
			if !ok {
				return nil, invalid(names.name(FieldTime), "is not an RFC 3339 timestamp")
			}
			ce.Time = parsed
		default:
			return nil, invalid(names.name(FieldTime), "is "+valueKind(v)+", want an RFC 3339 string")
		}
	}
	return ce, nil
}

// messageFields are the fields of the message object.
var messageFields = []string{
	FieldUserID, FieldTenantID, FieldCorrelationID, FieldSource, FieldReason, FieldOccurredAt,
}

// ambiguousKeys refuses a key that differs only in letter case from a field
// name the contract defines (say "UserId" beside or instead of "userId"):
// decoders that match names case-insensitively would read it as that field,
// so accepting it would let two consumers see two different messages.
func ambiguousKeys(obj jsonObject, names []string) *InvalidError {
	for _, name := range names {
		found := ""
		for key := range obj {
			if key != name && strings.EqualFold(key, name) && (found == "" || key < found) {
				found = key // the least such key, so the error is deterministic
			}
		}
		if found != "" {
			return invalid(name, "is also given as "+excerpt(found)+", which differs only in letter case")
		}
	}
	return nil
}

// messageFrom reads and checks the message object. Errors name the field
// alone ("userId"), also when the object is a CloudEvent's data.
func messageFrom(obj jsonObject) (LicenseFixed, *InvalidError) {
	if err := ambiguousKeys(obj, messageFields); err != nil {
		return LicenseFixed{}, err
	}
	var m LicenseFixed
	v, ok := obj[FieldUserID]
	if !ok {
		return LicenseFixed{}, invalid(FieldUserID, "is missing")
	}
	id, isStr := v.(string)
	if !isStr {
		return LicenseFixed{}, invalid(FieldUserID, "is "+kindOf(v)+", want a string")
	}
	if p := userIDProblem(id); p != "" {
		return LicenseFixed{}, invalid(FieldUserID, p)
	}
	m.UserID = id

	optional := func(field string) (string, *InvalidError) {
		v, ok := obj[field]
		if !ok || v == nil {
			return "", nil
		}
		s, isStr := v.(string)
		if !isStr {
			return "", invalid(field, "is "+kindOf(v)+", want a string")
		}
		return s, nil
	}
	var err *InvalidError
	if m.TenantID, err = optional(FieldTenantID); err != nil {
		return LicenseFixed{}, err
	}
	if _, present := obj[FieldTenantID]; present && obj[FieldTenantID] != nil {
		if p := tenantIDProblem(m.TenantID); p != "" {
			return LicenseFixed{}, invalid(FieldTenantID, p)
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{FieldCorrelationID, &m.CorrelationID},
		{FieldSource, &m.Source},
		{FieldReason, &m.Reason},
	} {
		if *f.dst, err = optional(f.name); err != nil {
			return LicenseFixed{}, err
		}
		if p := textProblem(*f.dst); p != "" {
			return LicenseFixed{}, invalid(f.name, p)
		}
	}
	occurred, err := optional(FieldOccurredAt)
	if err != nil {
		return LicenseFixed{}, err
	}
	if v := obj[FieldOccurredAt]; v != nil {
		t, ok := parseTimestamp(occurred)
		if !ok {
			return LicenseFixed{}, invalid(FieldOccurredAt, "is not an RFC 3339 timestamp")
		}
		m.OccurredAt = t
	}
	return m, nil
}

// tenantIDProblem checks a tenant id: a canonical GUID that is not nil.
func tenantIDProblem(s string) string {
	if !looksLikeGUID(s) {
		return "is not a GUID"
	}
	if strings.EqualFold(s, nilGUID) {
		return "is the nil GUID"
	}
	return ""
}

// textProblem checks a free-text value: at most MaxTextLength characters and
// no control characters (C0, DEL, C1), line or paragraph separators, or
// bidirectional formatting characters, which could forge log lines.
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if utf8.RuneCountInString(s) > MaxTextLength {
		return fmt.Sprintf("is longer than %d characters", MaxTextLength)
	}
	for _, r := range s {
		switch {
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			return "contains a control character"
		case r >= 0x2028 && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return "contains a line separator or bidirectional formatting character"
		}
	}
	return ""
}

// parseTimestamp parses an RFC 3339 date-time strictly:
// YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm), accepting the lower-case "t"
// and "z" that RFC 3339 allows and refusing what time.Parse would let
// through beyond the grammar (a comma before the fraction, offsets of 24
// hours or 60 minutes). Leap seconds (":60") are not accepted.
func parseTimestamp(s string) (time.Time, bool) {
	if !rfc3339Shape(s) {
		return time.Time{}, false
	}
	b := []byte(s)
	b[10] = 'T'
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// rfc3339Shape checks the RFC 3339 date-time grammar and the offset's range;
// time.Parse then checks the calendar and clock ranges.
func rfc3339Shape(s string) bool {
	digits := func(from, n int) bool {
		if from+n > len(s) {
			return false
		}
		for i := from; i < from+n; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	// 2006-01-02T15:04:05 is 19 bytes.
	if len(s) < 20 || !digits(0, 4) || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) ||
		(s[10] != 'T' && s[10] != 't') || !digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' || !digits(17, 2) {
		return false
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z" || rest == "z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		off := s[len(s)-6:]
		if !digits(len(s)-5, 2) || !digits(len(s)-2, 2) {
			return false
		}
		return off[1:3] <= "23" && off[4:6] <= "59"
	}
	return false
}

// valueKind names the kind of an application property or JSON value.
func valueKind(v any) string {
	switch v.(type) {
	case nil, string, json.Number, bool, []any, jsonObject:
		return kindOf(v)
	}
	return fmt.Sprintf("of type %T", v)
}
