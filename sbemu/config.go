package sbemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// DefaultQueueName is the queue of DefaultConfig.
const DefaultQueueName = "license-fixed"

// Config mirrors the Config.json file of Microsoft's Service Bus emulator, so
// one file serves both emulators. Only the parts this emulator implements are
// accepted: one namespace holding queues.
type Config struct {
	UserConfig UserConfig `json:"UserConfig"`
}

// UserConfig is the top level of Config.json.
type UserConfig struct {
	// Namespaces must hold exactly one namespace.
	Namespaces []Namespace `json:"Namespaces"`
	// Logging is accepted for compatibility and otherwise ignored: this
	// emulator logs through Options.Logger.
	Logging Logging `json:"Logging"`
}

// Logging is UserConfig.Logging: Type is "File" or "Console" (or empty).
type Logging struct {
	Type string `json:"Type,omitempty"`
}

// Namespace is one Service Bus namespace. Topics are not supported: a
// namespace listing any is refused.
type Namespace struct {
	Name   string  `json:"Name"`
	Queues []Queue `json:"Queues"`
}

// Queue is one queue of a namespace.
type Queue struct {
	// Name is 1 to 260 characters; it must not contain '/', '\', '?', '#' or '$'.
	Name       string          `json:"Name"`
	Properties QueueProperties `json:"Properties"`
}

// QueueProperties are a queue's settings. Durations are ISO 8601 in JSON
// ("PT1M", "PT20S", "P1D"); a zero or absent value takes the default given.
type QueueProperties struct {
	// LockDuration is the peek-lock length, at most 5 minutes. Default 1 minute.
	LockDuration Duration `json:"LockDuration,omitzero"`
	// MaxDeliveryCount is the delivery count at which a message is
	// dead-lettered (MaxDeliveryCountExceeded). Default 10.
	MaxDeliveryCount int `json:"MaxDeliveryCount,omitzero"`
	// DefaultMessageTimeToLive caps and defaults message time to live.
	// Default unlimited.
	DefaultMessageTimeToLive Duration `json:"DefaultMessageTimeToLive,omitzero"`
	// DeadLetteringOnMessageExpiration moves expired messages to the
	// dead-letter queue (TTLExpiredException) instead of dropping them.
	DeadLetteringOnMessageExpiration bool `json:"DeadLetteringOnMessageExpiration"`
	// RequiresDuplicateDetection drops messages whose message id was seen
	// within DuplicateDetectionHistoryTimeWindow.
	RequiresDuplicateDetection bool `json:"RequiresDuplicateDetection"`
	// DuplicateDetectionHistoryTimeWindow is the de-duplication window.
	// Default 10 minutes.
	DuplicateDetectionHistoryTimeWindow Duration `json:"DuplicateDetectionHistoryTimeWindow,omitzero"`
	// RequiresSession must be false: sessions are not supported.
	RequiresSession bool `json:"RequiresSession"`
	// ForwardTo names another queue of the namespace that receives every
	// message sent to this one, or is empty.
	ForwardTo string `json:"ForwardTo"`
	// ForwardDeadLetteredMessagesTo names another queue that receives this
	// queue's dead-lettered messages, or is empty.
	ForwardDeadLetteredMessagesTo string `json:"ForwardDeadLetteredMessagesTo"`
}

// Duration is a time.Duration written in JSON as an ISO 8601 duration
// ("PT1M", "P1DT2H", "PT0.5S"). Years and months are refused (their length varies).
type Duration time.Duration

// MarshalJSON writes d in ISO 8601 form.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(FormatISODuration(time.Duration(d)))
}

// UnmarshalJSON reads an ISO 8601 duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want an ISO 8601 duration string such as \"PT1M\"")
	}
	v, err := ParseISODuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig returns one namespace "sbemulatorns" with the queue
// "license-fixed": LockDuration 1 minute, MaxDeliveryCount 10.
func DefaultConfig() *Config {
	return &Config{UserConfig: UserConfig{
		Namespaces: []Namespace{{
			Name: "sbemulatorns",
			Queues: []Queue{{
				Name: DefaultQueueName,
				Properties: QueueProperties{
					LockDuration:     Duration(time.Minute),
					MaxDeliveryCount: 10,
				},
			}},
		}},
		Logging: Logging{Type: "Console"},
	}}
}

// LoadConfig reads and validates a Config.json file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sbemu: read config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and validates Config.json content. Errors name the
// offending field by path, e.g.
// "UserConfig.Namespaces[0].Queues[1].Properties.LockDuration: ...".
// Unknown fields, sessions and topics are refused.
func ParseConfig(b []byte) (*Config, error) {
	c := &Config{}
	root, err := object("", b, "UserConfig")
	if err != nil {
		return nil, err
	}
	uraw, ok := root["UserConfig"]
	if !ok {
		return nil, configErr("UserConfig", "missing")
	}
	if err := parseUserConfig("UserConfig", uraw, &c.UserConfig); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseUserConfig(path string, raw json.RawMessage, u *UserConfig) error {
	obj, err := object(path, raw, "Namespaces", "Logging")
	if err != nil {
		return err
	}
	if lraw, ok := obj["Logging"]; ok {
		lobj, err := object(path+".Logging", lraw, "Type")
		if err != nil {
			return err
		}
		if err := field(path+".Logging.Type", lobj, "Type", &u.Logging.Type); err != nil {
			return err
		}
	}
	nraw, ok := obj["Namespaces"]
	if !ok {
		return configErr(path+".Namespaces", "missing")
	}
	items, err := array(path+".Namespaces", nraw)
	if err != nil {
		return err
	}
	u.Namespaces = make([]Namespace, len(items))
	for i, item := range items {
		if err := parseNamespace(fmt.Sprintf("%s.Namespaces[%d]", path, i), item, &u.Namespaces[i]); err != nil {
			return err
		}
	}
	return nil
}

func parseNamespace(path string, raw json.RawMessage, ns *Namespace) error {
	obj, err := object(path, raw, "Name", "Queues", "Topics")
	if err != nil {
		return err
	}
	if err := field(path+".Name", obj, "Name", &ns.Name); err != nil {
		return err
	}
	if traw, ok := obj["Topics"]; ok {
		topics, err := array(path+".Topics", traw)
		if err != nil {
			return err
		}
		if len(topics) > 0 {
			return configErr(path+".Topics", "topics are not supported by this emulator")
		}
	}
	qraw, ok := obj["Queues"]
	if !ok {
		return nil
	}
	items, err := array(path+".Queues", qraw)
	if err != nil {
		return err
	}
	ns.Queues = make([]Queue, len(items))
	for i, item := range items {
		if err := parseQueue(fmt.Sprintf("%s.Queues[%d]", path, i), item, &ns.Queues[i]); err != nil {
			return err
		}
	}
	return nil
}

var queuePropertyNames = []string{
	"LockDuration", "MaxDeliveryCount", "DefaultMessageTimeToLive",
	"DeadLetteringOnMessageExpiration", "RequiresDuplicateDetection",
	"DuplicateDetectionHistoryTimeWindow", "RequiresSession", "ForwardTo",
	"ForwardDeadLetteredMessagesTo",
}

func parseQueue(path string, raw json.RawMessage, q *Queue) error {
	obj, err := object(path, raw, "Name", "Properties")
	if err != nil {
		return err
	}
	if err := field(path+".Name", obj, "Name", &q.Name); err != nil {
		return err
	}
	praw, ok := obj["Properties"]
	if !ok {
		return nil
	}
	ppath := path + ".Properties"
	props, err := object(ppath, praw, queuePropertyNames...)
	if err != nil {
		return err
	}
	p := &q.Properties
	targets := map[string]any{
		"LockDuration":                        &p.LockDuration,
		"MaxDeliveryCount":                    &p.MaxDeliveryCount,
		"DefaultMessageTimeToLive":            &p.DefaultMessageTimeToLive,
		"DeadLetteringOnMessageExpiration":    &p.DeadLetteringOnMessageExpiration,
		"RequiresDuplicateDetection":          &p.RequiresDuplicateDetection,
		"DuplicateDetectionHistoryTimeWindow": &p.DuplicateDetectionHistoryTimeWindow,
		"RequiresSession":                     &p.RequiresSession,
		"ForwardTo":                           &p.ForwardTo,
		"ForwardDeadLetteredMessagesTo":       &p.ForwardDeadLetteredMessagesTo,
	}
	for _, name := range queuePropertyNames {
		if err := field(ppath+"."+name, props, name, targets[name]); err != nil {
			return err
		}
	}
	// Zero would silently mean "default" after decoding, so refuse it here.
	if _, ok := props["MaxDeliveryCount"]; ok && p.MaxDeliveryCount <= 0 {
		return configErr(ppath+".MaxDeliveryCount", fmt.Sprintf("%d is not positive", p.MaxDeliveryCount))
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"LockDuration", p.LockDuration},
		{"DefaultMessageTimeToLive", p.DefaultMessageTimeToLive},
		{"DuplicateDetectionHistoryTimeWindow", p.DuplicateDetectionHistoryTimeWindow},
	} {
		if raw, ok := props[d.name]; ok && string(raw) != "null" && d.v <= 0 {
			return configErr(ppath+"."+d.name, "must be longer than zero")
		}
	}
	return nil
}

// object decodes raw as a JSON object whose keys must all be in allowed.
func object(path string, raw json.RawMessage, allowed ...string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		where := path
		if where == "" {
			where = "(root)"
		}
		return nil, configErr(where, "want a JSON object")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return nil, configErr(joinPath(path, k), "unknown field")
		}
	}
	return obj, nil
}

// array decodes raw as a JSON array (null is an empty one).
func array(path string, raw json.RawMessage) ([]json.RawMessage, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, configErr(path, "want a JSON array")
	}
	return items, nil
}

// field decodes obj[name] (when present) into dst.
func field(path string, obj map[string]json.RawMessage, name string, dst any) error {
	raw, ok := obj[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return configErr(path, "want a JSON "+jsonKind(dst))
		default:
			return configErr(path, err.Error())
		}
	}
	return nil
}

func jsonKind(dst any) string {
	switch dst.(type) {
	case *string:
		return "string"
	case *int:
		return "integer"
	case *bool:
		return "boolean"
	}
	return "value"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// ConfigError is a configuration problem at Path (e.g.
// "UserConfig.Namespaces[0].Queues[1].Properties.LockDuration").
type ConfigError struct {
	Path   string
	Reason string
}

// Error formats the path and reason.
func (e *ConfigError) Error() string { return "sbemu: config: " + e.Path + ": " + e.Reason }

func configErr(path, reason string) error { return &ConfigError{Path: path, Reason: reason} }

// Limits the emulator enforces on a Config.
const (
	maxLockDuration = 5 * time.Minute
	maxQueueName    = 260
	maxQueues       = 50
)

// Validate checks c the way ParseConfig does; use it on a Config built in code.
func (c *Config) Validate() error {
	u := &c.UserConfig
	switch u.Logging.Type {
	case "", "File", "Console":
	default:
		return configErr("UserConfig.Logging.Type", fmt.Sprintf("%q is not File or Console", u.Logging.Type))
	}
	if len(u.Namespaces) != 1 {
		return configErr("UserConfig.Namespaces", fmt.Sprintf("want exactly one namespace, got %d", len(u.Namespaces)))
	}
	ns := &u.Namespaces[0]
	base := "UserConfig.Namespaces[0]"
	if strings.TrimSpace(ns.Name) == "" {
		return configErr(base+".Name", "empty")
	}
	if len(ns.Queues) > maxQueues {
		return configErr(base+".Queues", fmt.Sprintf("%d queues, at most %d are supported", len(ns.Queues), maxQueues))
	}
	seen := map[string]int{}
	for i := range ns.Queues {
		q := &ns.Queues[i]
		qp := fmt.Sprintf("%s.Queues[%d]", base, i)
		if err := checkQueueName(q.Name); err != nil {
			return configErr(qp+".Name", err.Error())
		}
		key := strings.ToLower(q.Name)
		if j, dup := seen[key]; dup {
			return configErr(qp+".Name", fmt.Sprintf("%q already used by Queues[%d]", q.Name, j))
		}
		seen[key] = i
	}
	for i := range ns.Queues {
		q := &ns.Queues[i]
		pp := fmt.Sprintf("%s.Queues[%d].Properties", base, i)
		p := &q.Properties
		switch {
		case p.LockDuration < 0 || time.Duration(p.LockDuration) > maxLockDuration:
			return configErr(pp+".LockDuration", fmt.Sprintf("%s is outside (0, PT5M]", FormatISODuration(time.Duration(p.LockDuration))))
		case p.MaxDeliveryCount < 0:
			return configErr(pp+".MaxDeliveryCount", fmt.Sprintf("%d is not positive", p.MaxDeliveryCount))
		case p.DefaultMessageTimeToLive < 0:
			return configErr(pp+".DefaultMessageTimeToLive", "negative")
		case p.DuplicateDetectionHistoryTimeWindow < 0:
			return configErr(pp+".DuplicateDetectionHistoryTimeWindow", "negative")
		case p.RequiresSession:
			return configErr(pp+".RequiresSession", "sessions are not supported by this emulator")
		}
		for _, fw := range []struct{ name, target string }{
			{"ForwardTo", p.ForwardTo}, {"ForwardDeadLetteredMessagesTo", p.ForwardDeadLetteredMessagesTo},
		} {
			if fw.target == "" {
				continue
			}
			j, ok := seen[strings.ToLower(fw.target)]
			switch {
			case !ok:
				return configErr(pp+"."+fw.name, fmt.Sprintf("%q is not a queue of this namespace", fw.target))
			case j == i:
				return configErr(pp+"."+fw.name, "a queue cannot forward to itself")
			}
		}
	}
	return nil
}

func checkQueueName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case len(name) > maxQueueName:
		return fmt.Errorf("longer than %d characters", maxQueueName)
	case strings.ContainsAny(name, `/\?#$`):
		return fmt.Errorf("%q contains one of / \\ ? # $", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%q has leading or trailing spaces", name)
	}
	return nil
}

// queueConfigs turns a validated Config into broker queue configurations.
func (c *Config) queueConfigs() []broker.QueueConfig {
	ns := c.UserConfig.Namespaces[0]
	out := make([]broker.QueueConfig, 0, len(ns.Queues))
	for _, q := range ns.Queues {
		p := q.Properties
		out = append(out, broker.QueueConfig{
			Name:                          q.Name,
			LockDuration:                  orDefault(time.Duration(p.LockDuration), time.Minute),
			MaxDeliveryCount:              orDefault(p.MaxDeliveryCount, 10),
			DefaultMessageTimeToLive:      time.Duration(p.DefaultMessageTimeToLive),
			DeadLetteringOnExpiration:     p.DeadLetteringOnMessageExpiration,
			RequiresDuplicateDetection:    p.RequiresDuplicateDetection,
			DuplicateDetectionWindow:      orDefault(time.Duration(p.DuplicateDetectionHistoryTimeWindow), 10*time.Minute),
			ForwardTo:                     p.ForwardTo,
			ForwardDeadLetteredMessagesTo: p.ForwardDeadLetteredMessagesTo,
		})
	}
	return out
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ParseISODuration parses an ISO 8601 duration of days, hours, minutes and
// seconds: "P1D", "PT1H30M", "PT0.5S", "P1W". Years and months are refused.
func ParseISODuration(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration (%s)", s, why)
	}
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" || rest == "T" {
		return bad("want P[nW][nD][T[nH][nM][nS]]")
	}
	var total float64
	inTime := false
	seen := ""
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return bad("T twice")
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return bad("nothing after T")
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == 0 || i == len(rest) {
			return bad("want a number followed by a unit")
		}
		num, err := strconv.ParseFloat(strings.ReplaceAll(rest[:i], ",", "."), 64)
		if err != nil {
			return bad("bad number")
		}
		unit := rest[i]
		rest = rest[i+1:]
		var scale time.Duration
		switch {
		case !inTime && unit == 'W':
			scale = 7 * 24 * time.Hour
		case !inTime && unit == 'D':
			scale = 24 * time.Hour
		case !inTime && (unit == 'Y' || unit == 'M'):
			return bad("years and months are not supported")
		case inTime && unit == 'H':
			scale = time.Hour
		case inTime && unit == 'M':
			scale = time.Minute
		case inTime && unit == 'S':
			scale = time.Second
		default:
			return bad(fmt.Sprintf("unexpected unit %q", unit))
		}
		key := string(unit)
		if inTime {
			key = "T" + key
		}
		if strings.Contains(seen, key+",") {
			return bad("unit repeated")
		}
		seen += key + ","
		total += num * float64(scale)
		if total > float64(1<<62) {
			return bad("too long")
		}
	}
	return time.Duration(total), nil
}

// FormatISODuration writes d as an ISO 8601 duration ("PT1M", "P1DT2H", "PT0S").
func FormatISODuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var sb strings.Builder
	sb.WriteByte('P')
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&sb, "%dD", days)
		d -= days * 24 * time.Hour
	}
	if d == 0 {
		return sb.String()
	}
	sb.WriteByte('T')
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&sb, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&sb, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		sb.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
		sb.WriteByte('S')
	}
	return sb.String()
}
