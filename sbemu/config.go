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

// Config mirrors the Config.json file of Microsoft's Service Bus emulator
// (its Config-schema.json), so one file serves both emulators: one
// namespace holding queues and topics with subscriptions and rules.
// Sessions are not implemented: RequiresSession true is refused.
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

// Namespace is one Service Bus namespace.
type Namespace struct {
	Name   string  `json:"Name"`
	Queues []Queue `json:"Queues"`
	// Topics share one name space with Queues (names compare case-insensitively).
	Topics []Topic `json:"Topics,omitempty"`
}

// Topic is one topic of a namespace: what is sent to it is copied into each
// of its subscriptions whose rules match.
type Topic struct {
	// Name follows the rules of a queue name.
	Name          string          `json:"Name"`
	Properties    TopicProperties `json:"Properties"`
	Subscriptions []Subscription  `json:"Subscriptions"`
}

// TopicProperties are a topic's settings; zero or absent values take the
// default given.
type TopicProperties struct {
	// DefaultMessageTimeToLive caps and defaults the time to live of every
	// copy. Default unlimited.
	DefaultMessageTimeToLive Duration `json:"DefaultMessageTimeToLive,omitzero"`
	// DuplicateDetectionHistoryTimeWindow is the de-duplication window.
	// Default 10 minutes.
	DuplicateDetectionHistoryTimeWindow Duration `json:"DuplicateDetectionHistoryTimeWindow,omitzero"`
	// RequiresDuplicateDetection drops messages sent to the topic whose
	// message id was seen within the window (before any copy is made).
	RequiresDuplicateDetection bool `json:"RequiresDuplicateDetection"`
}

// Subscription is one subscription of a topic, received from as
// "<topic>/Subscriptions/<name>". Without Rules it takes every message (the
// $Default rule, a true filter).
type Subscription struct {
	// Name follows the rules of a queue name.
	Name       string                 `json:"Name"`
	Properties SubscriptionProperties `json:"Properties"`
	Rules      []Rule                 `json:"Rules,omitempty"`
}

// SubscriptionProperties are a subscription's settings, with the meaning and
// defaults of the QueueProperties of the same names. ForwardTo and
// ForwardDeadLetteredMessagesTo may name a queue or a topic of the namespace.
type SubscriptionProperties struct {
	LockDuration                     Duration `json:"LockDuration,omitzero"`
	MaxDeliveryCount                 int      `json:"MaxDeliveryCount,omitzero"`
	DefaultMessageTimeToLive         Duration `json:"DefaultMessageTimeToLive,omitzero"`
	DeadLetteringOnMessageExpiration bool     `json:"DeadLetteringOnMessageExpiration"`
	ForwardTo                        string   `json:"ForwardTo"`
	ForwardDeadLetteredMessagesTo    string   `json:"ForwardDeadLetteredMessagesTo"`
	// RequiresSession must be false: sessions are not supported.
	RequiresSession bool `json:"RequiresSession"`
}

// Rule is one named subscription rule: a filter and an optional action.
type Rule struct {
	Name       string         `json:"Name"`
	Properties RuleProperties `json:"Properties"`
}

// Filter types of RuleProperties.FilterType.
const (
	FilterTypeCorrelation = "Correlation"
	FilterTypeSQL         = "Sql"
)

// RuleProperties hold a rule's filter (CorrelationFilter when FilterType is
// "Correlation", SQLFilter, written SqlFilter, when it is "Sql") and an
// optional SQL action (SET and REMOVE statements).
type RuleProperties struct {
	FilterType        string             `json:"FilterType"`
	CorrelationFilter *CorrelationFilter `json:"CorrelationFilter,omitempty"`
	SQLFilter         *SQLExpression     `json:"SqlFilter,omitempty"`
	Action            *SQLExpression     `json:"Action,omitempty"`
}

// CorrelationFilter matches a message whose system properties equal every
// field given and whose application properties hold every entry of
// Properties with an equal value. At least one field must be given.
type CorrelationFilter struct {
	ContentType      string         `json:"ContentType,omitempty"`
	CorrelationID    string         `json:"CorrelationId,omitempty"`
	Label            string         `json:"Label,omitempty"`
	MessageID        string         `json:"MessageId,omitempty"`
	ReplyTo          string         `json:"ReplyTo,omitempty"`
	ReplyToSessionID string         `json:"ReplyToSessionId,omitempty"`
	SessionID        string         `json:"SessionId,omitempty"`
	To               string         `json:"To,omitempty"`
	Properties       map[string]any `json:"Properties,omitempty"`
}

// SQLExpression is a SqlFilter or an Action: {"SqlExpression": "..."}.
type SQLExpression struct {
	Expression string `json:"SqlExpression"`
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
// Unknown fields and sessions are refused. Line comments ("// ...", which
// Microsoft's sample Config.json uses) are allowed outside strings.
func ParseConfig(b []byte) (*Config, error) {
	c := &Config{}
	b = stripLineComments(b)
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
		ns.Topics = make([]Topic, len(topics))
		for i, item := range topics {
			if err := parseTopic(fmt.Sprintf("%s.Topics[%d]", path, i), item, &ns.Topics[i]); err != nil {
				return err
			}
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
	p := &q.Properties
	return parseProperties(path, obj, queuePropertyNames, map[string]any{
		"LockDuration":                        &p.LockDuration,
		"MaxDeliveryCount":                    &p.MaxDeliveryCount,
		"DefaultMessageTimeToLive":            &p.DefaultMessageTimeToLive,
		"DeadLetteringOnMessageExpiration":    &p.DeadLetteringOnMessageExpiration,
		"RequiresDuplicateDetection":          &p.RequiresDuplicateDetection,
		"DuplicateDetectionHistoryTimeWindow": &p.DuplicateDetectionHistoryTimeWindow,
		"RequiresSession":                     &p.RequiresSession,
		"ForwardTo":                           &p.ForwardTo,
		"ForwardDeadLetteredMessagesTo":       &p.ForwardDeadLetteredMessagesTo,
	})
}

// parseProperties decodes obj's "Properties" (when present) into targets,
// whose keys, in the order of names, are the only ones allowed. A
// MaxDeliveryCount or a duration that is present must be positive.
func parseProperties(path string, obj map[string]json.RawMessage, names []string, targets map[string]any) error {
	praw, ok := obj["Properties"]
	if !ok {
		return nil
	}
	ppath := path + ".Properties"
	props, err := object(ppath, praw, names...)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := field(ppath+"."+name, props, name, targets[name]); err != nil {
			return err
		}
		raw, present := props[name]
		if !present || string(bytes.TrimSpace(raw)) == "null" {
			continue
		}
		// Zero would silently mean "default" after decoding, so refuse it here.
		switch v := targets[name].(type) {
		case *int:
			if *v <= 0 {
				return configErr(ppath+"."+name, fmt.Sprintf("%d is not positive", *v))
			}
		case *Duration:
			if *v <= 0 {
				return configErr(ppath+"."+name, "must be longer than zero")
			}
		}
	}
	return nil
}

var topicPropertyNames = []string{
	"DefaultMessageTimeToLive", "DuplicateDetectionHistoryTimeWindow", "RequiresDuplicateDetection",
}

var subscriptionPropertyNames = []string{
	"LockDuration", "MaxDeliveryCount", "DefaultMessageTimeToLive",
	"DeadLetteringOnMessageExpiration", "ForwardTo", "ForwardDeadLetteredMessagesTo", "RequiresSession",
}

func parseTopic(path string, raw json.RawMessage, t *Topic) error {
	obj, err := object(path, raw, "Name", "Properties", "Subscriptions")
	if err != nil {
		return err
	}
	if err := field(path+".Name", obj, "Name", &t.Name); err != nil {
		return err
	}
	p := &t.Properties
	if err := parseProperties(path, obj, topicPropertyNames, map[string]any{
		"DefaultMessageTimeToLive":            &p.DefaultMessageTimeToLive,
		"DuplicateDetectionHistoryTimeWindow": &p.DuplicateDetectionHistoryTimeWindow,
		"RequiresDuplicateDetection":          &p.RequiresDuplicateDetection,
	}); err != nil {
		return err
	}
	sraw, ok := obj["Subscriptions"]
	if !ok {
		return configErr(path+".Subscriptions", "missing")
	}
	items, err := array(path+".Subscriptions", sraw)
	if err != nil {
		return err
	}
	t.Subscriptions = make([]Subscription, len(items))
	for i, item := range items {
		if err := parseSubscription(fmt.Sprintf("%s.Subscriptions[%d]", path, i), item, &t.Subscriptions[i]); err != nil {
			return err
		}
	}
	return nil
}

func parseSubscription(path string, raw json.RawMessage, sub *Subscription) error {
	obj, err := object(path, raw, "Name", "Properties", "Rules")
	if err != nil {
		return err
	}
	if err := field(path+".Name", obj, "Name", &sub.Name); err != nil {
		return err
	}
	p := &sub.Properties
	if err := parseProperties(path, obj, subscriptionPropertyNames, map[string]any{
		"LockDuration":                     &p.LockDuration,
		"MaxDeliveryCount":                 &p.MaxDeliveryCount,
		"DefaultMessageTimeToLive":         &p.DefaultMessageTimeToLive,
		"DeadLetteringOnMessageExpiration": &p.DeadLetteringOnMessageExpiration,
		"ForwardTo":                        &p.ForwardTo,
		"ForwardDeadLetteredMessagesTo":    &p.ForwardDeadLetteredMessagesTo,
		"RequiresSession":                  &p.RequiresSession,
	}); err != nil {
		return err
	}
	rraw, ok := obj["Rules"]
	if !ok {
		return nil
	}
	items, err := array(path+".Rules", rraw)
	if err != nil {
		return err
	}
	sub.Rules = make([]Rule, len(items))
	for i, item := range items {
		if err := parseRule(fmt.Sprintf("%s.Rules[%d]", path, i), item, &sub.Rules[i]); err != nil {
			return err
		}
	}
	return nil
}

var correlationFieldNames = []string{
	"ContentType", "CorrelationId", "Label", "MessageId", "ReplyTo", "ReplyToSessionId", "SessionId", "To", "Properties",
}

func parseRule(path string, raw json.RawMessage, r *Rule) error {
	obj, err := object(path, raw, "Name", "Properties")
	if err != nil {
		return err
	}
	if err := field(path+".Name", obj, "Name", &r.Name); err != nil {
		return err
	}
	praw, ok := obj["Properties"]
	if !ok {
		return configErr(path+".Properties", "missing")
	}
	ppath := path + ".Properties"
	props, err := object(ppath, praw, "FilterType", "CorrelationFilter", "SqlFilter", "Action")
	if err != nil {
		return err
	}
	rp := &r.Properties
	if err := field(ppath+".FilterType", props, "FilterType", &rp.FilterType); err != nil {
		return err
	}
	if craw, ok := props["CorrelationFilter"]; ok {
		cpath := ppath + ".CorrelationFilter"
		cobj, err := object(cpath, craw, correlationFieldNames...)
		if err != nil {
			return err
		}
		cf := &CorrelationFilter{}
		for name, dst := range map[string]*string{
			"ContentType": &cf.ContentType, "CorrelationId": &cf.CorrelationID, "Label": &cf.Label,
			"MessageId": &cf.MessageID, "ReplyTo": &cf.ReplyTo, "ReplyToSessionId": &cf.ReplyToSessionID,
			"SessionId": &cf.SessionID, "To": &cf.To,
		} {
			if err := field(cpath+"."+name, cobj, name, dst); err != nil {
				return err
			}
		}
		if praw, ok := cobj["Properties"]; ok {
			if cf.Properties, err = correlationProperties(cpath+".Properties", praw); err != nil {
				return err
			}
		}
		rp.CorrelationFilter = cf
	}
	for _, x := range []struct {
		name string
		dst  **SQLExpression
	}{{"SqlFilter", &rp.SQLFilter}, {"Action", &rp.Action}} {
		xraw, ok := props[x.name]
		if !ok {
			continue
		}
		xobj, err := object(ppath+"."+x.name, xraw, "SqlExpression")
		if err != nil {
			return err
		}
		e := &SQLExpression{}
		if err := field(ppath+"."+x.name+".SqlExpression", xobj, "SqlExpression", &e.Expression); err != nil {
			return err
		}
		*x.dst = e
	}
	return nil
}

// correlationProperties decodes a correlation filter's Properties: each
// value a string, a number (int64 when integral, else float64) or a boolean.
func correlationProperties(path string, raw json.RawMessage) (map[string]any, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, configErr(path, "want a JSON object")
	}
	out := make(map[string]any, len(obj))
	for k, vraw := range obj {
		d := json.NewDecoder(bytes.NewReader(vraw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, configErr(joinPath(path, k), err.Error())
		}
		switch x := v.(type) {
		case string, bool:
			out[k] = x
		case json.Number:
			if n, err := x.Int64(); err == nil {
				out[k] = n
			} else if f, err := x.Float64(); err == nil {
				out[k] = f
			} else {
				return nil, configErr(joinPath(path, k), "number out of range")
			}
		default:
			return nil, configErr(joinPath(path, k), "want a string, a number or a boolean")
		}
	}
	return out, nil
}

// stripLineComments blanks "//" comments that start outside JSON strings,
// keeping every newline (and so every line number) in place.
func stripLineComments(b []byte) []byte {
	if !bytes.Contains(b, []byte("//")) {
		return b
	}
	out := bytes.Clone(b)
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		}
	}
	return out
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

// Validate checks c the way ParseConfig does; use it on a Config built in
// code. It also compiles every rule, so a rule that does not parse fails here,
// naming its topic, subscription and rule.
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
	if n := len(ns.Queues) + len(ns.Topics); n > maxQueues {
		return configErr(base+".Queues", fmt.Sprintf("%d queues and topics, at most %d are supported", n, maxQueues))
	}
	// seen maps a lower-cased queue or topic name to its path in the config.
	seen := map[string]string{}
	for i := range ns.Queues {
		q := &ns.Queues[i]
		qp := fmt.Sprintf("%s.Queues[%d]", base, i)
		if err := checkQueueName(q.Name); err != nil {
			return configErr(qp+".Name", err.Error())
		}
		key := strings.ToLower(q.Name)
		if other, dup := seen[key]; dup {
			return configErr(qp+".Name", fmt.Sprintf("%q already used by %s", q.Name, other))
		}
		seen[key] = fmt.Sprintf("Queues[%d]", i)
	}
	for i := range ns.Topics {
		t := &ns.Topics[i]
		tp := fmt.Sprintf("%s.Topics[%d]", base, i)
		if err := checkQueueName(t.Name); err != nil {
			return configErr(tp+".Name", err.Error())
		}
		key := strings.ToLower(t.Name)
		if other, dup := seen[key]; dup {
			return configErr(tp+".Name", fmt.Sprintf("%q already used by %s", t.Name, other))
		}
		seen[key] = fmt.Sprintf("Topics[%d]", i)
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
		self := fmt.Sprintf("Queues[%d]", i)
		if err := checkForwards(pp, seen, self, "a queue cannot forward to itself", p.ForwardTo, p.ForwardDeadLetteredMessagesTo); err != nil {
			return err
		}
	}
	for i := range ns.Topics {
		if err := validateTopic(fmt.Sprintf("%s.Topics[%d]", base, i), fmt.Sprintf("Topics[%d]", i), &ns.Topics[i], seen); err != nil {
			return err
		}
	}
	return nil
}

// Limits of one topic (Microsoft's Config-schema.json).
const (
	maxSubscriptions = 50
	maxRules         = 1000
)

func validateTopic(tp, self string, t *Topic, seen map[string]string) error {
	p := &t.Properties
	switch {
	case p.DefaultMessageTimeToLive < 0:
		return configErr(tp+".Properties.DefaultMessageTimeToLive", "negative")
	case p.DuplicateDetectionHistoryTimeWindow < 0:
		return configErr(tp+".Properties.DuplicateDetectionHistoryTimeWindow", "negative")
	case len(t.Subscriptions) == 0:
		return configErr(tp+".Subscriptions", "a topic needs at least one subscription")
	case len(t.Subscriptions) > maxSubscriptions:
		return configErr(tp+".Subscriptions", fmt.Sprintf("%d subscriptions, at most %d are supported", len(t.Subscriptions), maxSubscriptions))
	}
	subs := map[string]int{}
	for j := range t.Subscriptions {
		sub := &t.Subscriptions[j]
		sp := fmt.Sprintf("%s.Subscriptions[%d]", tp, j)
		if err := checkShortName(sub.Name); err != nil {
			return configErr(sp+".Name", err.Error())
		}
		key := strings.ToLower(sub.Name)
		if k, dup := subs[key]; dup {
			return configErr(sp+".Name", fmt.Sprintf("%q already used by Subscriptions[%d]", sub.Name, k))
		}
		subs[key] = j
		pp := sp + ".Properties"
		q := &sub.Properties
		switch {
		case q.LockDuration < 0 || time.Duration(q.LockDuration) > maxLockDuration:
			return configErr(pp+".LockDuration", fmt.Sprintf("%s is outside (0, PT5M]", FormatISODuration(time.Duration(q.LockDuration))))
		case q.MaxDeliveryCount < 0:
			return configErr(pp+".MaxDeliveryCount", fmt.Sprintf("%d is not positive", q.MaxDeliveryCount))
		case q.DefaultMessageTimeToLive < 0:
			return configErr(pp+".DefaultMessageTimeToLive", "negative")
		case q.RequiresSession:
			return configErr(pp+".RequiresSession", "sessions are not supported by this emulator")
		case len(sub.Rules) > maxRules:
			return configErr(sp+".Rules", fmt.Sprintf("%d rules, at most %d are supported", len(sub.Rules), maxRules))
		}
		if err := checkForwards(pp, seen, self, "a subscription cannot forward to its own topic", q.ForwardTo, q.ForwardDeadLetteredMessagesTo); err != nil {
			return err
		}
		if _, err := compileRules(sp, t.Name, sub); err != nil {
			return err
		}
	}
	return nil
}

// checkForwards checks ForwardTo and ForwardDeadLetteredMessagesTo name a
// queue or topic of the namespace other than self (selfReason).
func checkForwards(pp string, seen map[string]string, self, selfReason, forwardTo, dlTo string) error {
	for _, fw := range []struct{ name, target string }{
		{"ForwardTo", forwardTo}, {"ForwardDeadLetteredMessagesTo", dlTo},
	} {
		if fw.target == "" {
			continue
		}
		other, ok := seen[strings.ToLower(fw.target)]
		switch {
		case !ok:
			return configErr(pp+"."+fw.name, fmt.Sprintf("%q is not a queue or topic of this namespace", fw.target))
		case other == self:
			return configErr(pp+"."+fw.name, selfReason)
		}
	}
	return nil
}

// maxShortName is the longest subscription or rule name Service Bus allows
// (Azure naming rules for Microsoft.ServiceBus: 1 to 50 characters).
const maxShortName = 50

// checkShortName checks a subscription or rule name.
func checkShortName(name string) error {
	if len(name) > maxShortName {
		return fmt.Errorf("longer than %d characters", maxShortName)
	}
	return checkQueueName(name)
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

// brokerConfigs turns a validated Config into broker queue and topic
// configurations, compiling the rules into routers.
func (c *Config) brokerConfigs() ([]broker.QueueConfig, []broker.TopicConfig, error) {
	ns := c.UserConfig.Namespaces[0]
	queues := make([]broker.QueueConfig, 0, len(ns.Queues))
	for _, q := range ns.Queues {
		p := q.Properties
		queues = append(queues, broker.QueueConfig{
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
	topics := make([]broker.TopicConfig, 0, len(ns.Topics))
	for i, t := range ns.Topics {
		tc := broker.TopicConfig{
			Name:                       t.Name,
			DefaultMessageTimeToLive:   time.Duration(t.Properties.DefaultMessageTimeToLive),
			RequiresDuplicateDetection: t.Properties.RequiresDuplicateDetection,
			DuplicateDetectionWindow:   orDefault(time.Duration(t.Properties.DuplicateDetectionHistoryTimeWindow), 10*time.Minute),
		}
		for j, sub := range t.Subscriptions {
			p := sub.Properties
			router, err := compileRules(fmt.Sprintf("UserConfig.Namespaces[0].Topics[%d].Subscriptions[%d]", i, j), t.Name, &sub)
			if err != nil {
				return nil, nil, err
			}
			tc.Subscriptions = append(tc.Subscriptions, broker.SubscriptionConfig{
				QueueConfig: broker.QueueConfig{
					Name:                          sub.Name,
					LockDuration:                  orDefault(time.Duration(p.LockDuration), time.Minute),
					MaxDeliveryCount:              orDefault(p.MaxDeliveryCount, 10),
					DefaultMessageTimeToLive:      time.Duration(p.DefaultMessageTimeToLive),
					DeadLetteringOnExpiration:     p.DeadLetteringOnMessageExpiration,
					ForwardTo:                     p.ForwardTo,
					ForwardDeadLetteredMessagesTo: p.ForwardDeadLetteredMessagesTo,
				},
				Router: router,
			})
		}
		topics = append(topics, tc)
	}
	return queues, topics, nil
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
