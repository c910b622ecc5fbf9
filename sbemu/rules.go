package sbemu

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/licensefix/licensefix/sbemu/internal/broker"
	"github.com/licensefix/licensefix/sbemu/internal/sqlfilter"
)

// Subscription rules (Service Bus "Topic filters and actions"): each rule
// is a filter and an optional action. A message goes into a subscription
// once if any rule without an action matches, plus once more for each
// matching rule with an action, that copy changed by the action and given
// the application property RuleName (the rule's name). A subscription
// without rules has the $Default rule, a true filter.

// ruleMessage is the view of a message that filters and actions work on:
// system properties by lower-case name without "sys." (messageid,
// correlationid, to, replyto, label, sessionid, replytosessionid,
// contenttype, size, ...) and application (user) properties. Values are Go
// string, bool, int64, float64, time.Time or nil. System reports ok false
// only for a name that is no system property; an unset one is (nil, true).
type ruleMessage interface {
	System(name string) (any, bool)
	User(name string) (any, bool)
	SetSystem(name string, v any) error
	SetUser(name string, v any)
	RemoveUser(name string)
}

// ruleFilter decides whether a message matches a rule.
type ruleFilter interface {
	Match(m ruleMessage) (bool, error)
}

// ruleAction changes a matching message's copy.
type ruleAction interface {
	Apply(m ruleMessage) error
}

// rule is one compiled subscription rule.
type rule struct {
	name   string
	filter ruleFilter
	action ruleAction // nil: none
}

// ruleRouter is a subscription's compiled rules, the broker.Router of the
// subscription.
type ruleRouter struct {
	rules []rule
}

// propRuleName is the application property Service Bus sets on the copy
// that a rule with an action produces.
const propRuleName = "RuleName"

// Route applies the rules to m. A filter or action that fails on m fails
// the whole route, and the broker dead-letters m in the subscription.
func (r *ruleRouter) Route(m broker.Message) ([]broker.Message, error) {
	sm, ok := m.Payload.(*storedMessage)
	if !ok {
		return nil, errors.New("sbemu: stored message of unexpected type")
	}
	view := newMessageView(sm.msg, m)
	plain := false
	var copies []broker.Message
	for _, ru := range r.rules {
		ok, err := ru.filter.Match(view)
		if err != nil {
			return nil, fmt.Errorf("rule %q: filter: %w", ru.name, err)
		}
		if !ok {
			continue
		}
		if ru.action == nil {
			plain = true
			continue
		}
		c := cloneForAction(sm.msg)
		if err := ru.action.Apply(newMessageView(c, m)); err != nil {
			return nil, fmt.Errorf("rule %q: action: %w", ru.name, err)
		}
		c.ApplicationProperties.Set(propRuleName, ru.name)
		bm := m
		bm.MessageID = messageIDString(c)
		bm.Payload = &storedMessage{msg: c}
		copies = append(copies, bm)
	}
	if plain {
		copies = append([]broker.Message{m}, copies...)
	}
	return copies, nil
}

// cloneForAction copies the parts of m an action may change (properties
// and application properties); the body is shared, never written.
func cloneForAction(m *amqp.Message) *amqp.Message {
	c := *m
	if m.Properties != nil {
		p := *m.Properties
		c.Properties = &p
	} else {
		c.Properties = &amqp.Properties{}
	}
	c.ApplicationProperties = slices.Clone(m.ApplicationProperties)
	if c.ApplicationProperties == nil {
		c.ApplicationProperties = amqp.Map{}
	}
	return &c
}

// compileRules compiles a subscription's rules (path is the subscription's
// place in the Config) into its router: nil, accepting everything, when it
// has none. Errors name the topic, the subscription and the rule.
func compileRules(path, topic string, sub *Subscription) (broker.Router, error) {
	if len(sub.Rules) == 0 {
		return nil, nil
	}
	r := &ruleRouter{}
	names := map[string]int{}
	for k := range sub.Rules {
		ru := &sub.Rules[k]
		rp := fmt.Sprintf("%s.Rules[%d]", path, k)
		fail := func(where, reason string) error {
			return configErr(rp+where, fmt.Sprintf("topic %q, subscription %q, rule %q: %s", topic, sub.Name, ru.Name, reason))
		}
		if err := checkShortName(ru.Name); err != nil {
			return nil, fail(".Name", err.Error())
		}
		key := strings.ToLower(ru.Name)
		if j, dup := names[key]; dup {
			return nil, fail(".Name", fmt.Sprintf("name already used by Rules[%d]", j))
		}
		names[key] = k
		p := &ru.Properties
		c := rule{name: ru.Name}
		switch p.FilterType {
		case FilterTypeCorrelation:
			switch {
			case p.SQLFilter != nil:
				return nil, fail(".Properties.SqlFilter", "not allowed with FilterType Correlation")
			case p.CorrelationFilter == nil:
				return nil, fail(".Properties.CorrelationFilter", "missing (FilterType is Correlation)")
			case p.CorrelationFilter.empty():
				return nil, fail(".Properties.CorrelationFilter", "names no property to match")
			}
			c.filter = p.CorrelationFilter
		case FilterTypeSQL:
			switch {
			case p.CorrelationFilter != nil:
				return nil, fail(".Properties.CorrelationFilter", "not allowed with FilterType Sql")
			case p.SQLFilter == nil || strings.TrimSpace(p.SQLFilter.Expression) == "":
				return nil, fail(".Properties.SqlFilter.SqlExpression", "missing (FilterType is Sql)")
			}
			f, err := parseSQLFilter(p.SQLFilter.Expression)
			if err != nil {
				return nil, fail(".Properties.SqlFilter.SqlExpression", err.Error())
			}
			c.filter = f
		default:
			return nil, fail(".Properties.FilterType", fmt.Sprintf("%q is not %q or %q", p.FilterType, FilterTypeCorrelation, FilterTypeSQL))
		}
		if p.Action != nil {
			a, err := parseSQLAction(p.Action.Expression)
			if err != nil {
				return nil, fail(".Properties.Action.SqlExpression", err.Error())
			}
			c.action = a
		}
		r.rules = append(r.rules, c)
	}
	return r, nil
}

// empty reports whether f names nothing to match.
func (f *CorrelationFilter) empty() bool {
	return f.ContentType == "" && f.CorrelationID == "" && f.Label == "" && f.MessageID == "" &&
		f.ReplyTo == "" && f.ReplyToSessionID == "" && f.SessionID == "" && f.To == "" && len(f.Properties) == 0
}

// Match implements ruleFilter: every given system property must equal the
// message's, and every entry of Properties must be an application property
// of the message with an equal value ("Topic filters and actions",
// Correlation filters: the given properties are matched by equality, all of
// them ANDed).
func (f *CorrelationFilter) Match(m ruleMessage) (bool, error) {
	for _, c := range []struct{ name, want string }{
		{"contenttype", f.ContentType}, {"correlationid", f.CorrelationID}, {"label", f.Label},
		{"messageid", f.MessageID}, {"replyto", f.ReplyTo}, {"replytosessionid", f.ReplyToSessionID},
		{"sessionid", f.SessionID}, {"to", f.To},
	} {
		if c.want == "" {
			continue
		}
		got, ok := m.System(c.name)
		if s, isStr := got.(string); !ok || !isStr || s != c.want {
			return false, nil
		}
	}
	for k, want := range f.Properties {
		got, ok := m.User(k)
		if !ok || !correlationEqual(got, want) {
			return false, nil
		}
	}
	return true, nil
}

// correlationEqual compares a message value with a filter value: numbers
// by numeric value, everything else by type and value.
func correlationEqual(got, want any) bool {
	gf, gNum := asFloat(got)
	wf, wNum := asFloat(want)
	if gNum || wNum {
		return gNum && wNum && gf == wf
	}
	return got == want
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// sqlRuleFilter is a SQL filter as a ruleFilter.
type sqlRuleFilter struct{ f *sqlfilter.Filter }

// Match implements ruleFilter.
func (r sqlRuleFilter) Match(m ruleMessage) (bool, error) { return r.f.Match(m) }

// sqlRuleAction is a SQL action as a ruleAction.
type sqlRuleAction struct{ a *sqlfilter.Action }

// Apply implements ruleAction.
func (r sqlRuleAction) Apply(m ruleMessage) error { return r.a.Apply(m) }

// parseSQLFilter compiles a SqlFilter expression. A sys. name that is no
// system property fails here, at start-up, rather than on every message.
func parseSQLFilter(expr string) (ruleFilter, error) {
	f, err := sqlfilter.ParseFilter(expr)
	if err != nil {
		return nil, err
	}
	if err := checkSystemNames(f.SystemProperties()); err != nil {
		return nil, err
	}
	return sqlRuleFilter{f: f}, nil
}

// parseSQLAction compiles an Action expression (SET and REMOVE statements).
func parseSQLAction(expr string) (ruleAction, error) {
	a, err := sqlfilter.ParseAction(expr)
	if err != nil {
		return nil, err
	}
	if err := checkSystemNames(a.SystemProperties()); err != nil {
		return nil, err
	}
	return sqlRuleAction{a: a}, nil
}

// checkSystemNames refuses sys. names the message view does not know.
func checkSystemNames(names []string) error {
	empty := &messageView{m: &amqp.Message{}}
	for _, n := range names {
		if _, ok := empty.System(n); !ok {
			return fmt.Errorf("sys.%s is not a system property", n)
		}
	}
	return nil
}

// messageView is a ruleMessage over an AMQP message and the broker's view
// of it. Only views of a copy made by cloneForAction may be written to.
type messageView struct {
	m         *amqp.Message
	size      int
	ttl       time.Duration // 0 = none
	scheduled time.Time     // zero = not scheduled
}

// newMessageView views the stored message of bm.
func newMessageView(m *amqp.Message, bm broker.Message) *messageView {
	return &messageView{m: m, size: bm.Size, ttl: bm.TimeToLive, scheduled: bm.ScheduledEnqueueTime}
}

// brokerAssigned are system properties a message has only once a
// subscription has stored (or delivered) it: unset while rules run.
var brokerAssigned = map[string]bool{
	"sequencenumber": true, "enqueuedsequencenumber": true, "enqueuedtimeutc": true, "expiresatutc": true,
	"lockeduntilutc": true, "locktoken": true, "deadlettersource": true, "state": true,
	"partitionkey": true, "viapartitionkey": true, "transactionpartitionkey": true,
}

// noProperties stands in, read-only, for the properties of a message that
// has none.
var noProperties amqp.Properties

// System returns a system property by its lower-case name: (nil, true) when
// it is unset (an empty string, or one the broker assigns only later),
// ok false when there is no such system property.
func (v *messageView) System(name string) (any, bool) {
	p := v.m.Properties
	if p == nil {
		p = &noProperties
	}
	text := func(s string) (any, bool) {
		if s == "" {
			return nil, true
		}
		return s, true
	}
	switch name = strings.ToLower(name); name {
	case "messageid":
		return text(messageIDString(v.m))
	case "correlationid":
		return text(idString(p.CorrelationID))
	case "to":
		return text(p.To)
	case "replyto":
		return text(p.ReplyTo)
	case "label":
		return text(p.Subject)
	case "sessionid":
		return text(p.GroupID)
	case "replytosessionid":
		return text(p.ReplyToGroupID)
	case "contenttype":
		return text(string(p.ContentType))
	case "size":
		return int64(v.size), true
	case "deliverycount":
		return int64(0), true
	case "timetolive":
		if v.ttl <= 0 {
			return nil, true
		}
		return v.ttl, true
	case "scheduledenqueuetimeutc":
		if v.scheduled.IsZero() {
			return nil, true
		}
		return v.scheduled, true
	}
	if brokerAssigned[name] {
		return nil, true
	}
	return nil, false
}

// SetSystem sets one of the settable string system properties, or clears
// it when val is nil.
func (v *messageView) SetSystem(name string, val any) error {
	s, ok := val.(string)
	if !ok && val != nil {
		return fmt.Errorf("sys.%s: want a string, not %T", name, val)
	}
	p := v.m.Properties
	switch strings.ToLower(name) {
	case "messageid":
		p.MessageID = s
		if val == nil {
			p.MessageID = nil
		}
	case "correlationid":
		p.CorrelationID = s
		if val == nil {
			p.CorrelationID = nil
		}
	case "to":
		p.To = s
	case "replyto":
		p.ReplyTo = s
	case "label":
		p.Subject = s
	case "sessionid":
		p.GroupID = s
	case "replytosessionid":
		p.ReplyToGroupID = s
	case "contenttype":
		p.ContentType = amqp.Symbol(s)
	default:
		return fmt.Errorf("sys.%s cannot be set", name)
	}
	return nil
}

// userIndex finds an application property by name, exactly or else
// ignoring case (Service Bus property names are case-insensitive).
func (v *messageView) userIndex(name string) int {
	i := slices.IndexFunc(v.m.ApplicationProperties, func(p amqp.Pair) bool { k, ok := p.Key.(string); return ok && k == name })
	if i < 0 {
		i = slices.IndexFunc(v.m.ApplicationProperties, func(p amqp.Pair) bool {
			k, ok := p.Key.(string)
			return ok && strings.EqualFold(k, name)
		})
	}
	return i
}

// User returns an application property.
func (v *messageView) User(name string) (any, bool) {
	if i := v.userIndex(name); i >= 0 {
		return ruleValue(v.m.ApplicationProperties[i].Value), true
	}
	return nil, false
}

// SetUser sets an application property, replacing one whose name differs
// only in case.
func (v *messageView) SetUser(name string, val any) {
	if i := v.userIndex(name); i >= 0 {
		v.m.ApplicationProperties[i] = amqp.Pair{Key: name, Value: val}
		return
	}
	v.m.ApplicationProperties = append(v.m.ApplicationProperties, amqp.Pair{Key: name, Value: val})
}

// RemoveUser removes an application property.
func (v *messageView) RemoveUser(name string) {
	if i := v.userIndex(name); i >= 0 {
		v.m.ApplicationProperties = slices.Delete(v.m.ApplicationProperties, i, i+1)
	}
}

// ruleValue converts an AMQP value to the types filters compare: integers
// to int64 (uint64 beyond it to float64), floats to float64, symbols and
// UUIDs to strings, timestamps as they are; anything else stays as it is.
func ruleValue(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		return float64(x)
	case amqp.Symbol:
		return string(x)
	case amqp.UUID:
		return x.String()
	case time.Time, string, bool, float64, nil:
		return x
	}
	return v
}
