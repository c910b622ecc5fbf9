package sqlfilter

import (
	"fmt"
	"strings"
	"time"
)

// fakeMsg is a Message backed by maps. sys holds every system property the
// fake knows (nil when unset); user properties are matched without regard
// to case, as the Message contract asks.
type fakeMsg struct {
	sys  map[string]any
	user map[string]any
}

// settableSys are the system properties an action may set in the fake.
var settableSys = map[string]bool{
	"label": true, "to": true, "replyto": true, "correlationid": true,
	"messageid": true, "sessionid": true, "replytosessionid": true, "contenttype": true,
}

// newMsg returns a message with every system property unset and the given
// user properties, listed as name, value pairs.
func newMsg(userKV ...any) *fakeMsg {
	m := &fakeMsg{sys: map[string]any{}, user: map[string]any{}}
	for _, n := range []string{
		"messageid", "correlationid", "to", "replyto", "label", "sessionid",
		"replytosessionid", "contenttype", "deliverycount", "sequencenumber",
		"enqueuedtimeutc", "size", "timetolive", "scheduledenqueuetimeutc",
	} {
		m.sys[n] = nil
	}
	for i := 0; i+1 < len(userKV); i += 2 {
		m.user[userKV[i].(string)] = userKV[i+1]
	}
	return m
}

// withSys sets system properties, given as lower-case name, value pairs.
func (m *fakeMsg) withSys(kv ...any) *fakeMsg {
	for i := 0; i+1 < len(kv); i += 2 {
		m.sys[kv[i].(string)] = kv[i+1]
	}
	return m
}

func (m *fakeMsg) System(name string) (any, bool) {
	v, ok := m.sys[name]
	return v, ok
}

func (m *fakeMsg) key(name string) (string, bool) {
	for k := range m.user {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return name, false
}

func (m *fakeMsg) User(name string) (any, bool) {
	k, ok := m.key(name)
	if !ok {
		return nil, false
	}
	return m.user[k], true
}

func (m *fakeMsg) SetSystem(name string, v any) error {
	if _, ok := m.sys[name]; !ok {
		return fmt.Errorf("no system property %q", name)
	}
	if !settableSys[name] {
		return fmt.Errorf("system property %q is read-only", name)
	}
	if _, ok := v.(string); !ok && v != nil {
		return fmt.Errorf("system property %q takes a string, not %T", name, v)
	}
	m.sys[name] = v
	return nil
}

func (m *fakeMsg) SetUser(name string, v any) {
	k, _ := m.key(name)
	m.user[k] = v
}

func (m *fakeMsg) RemoveUser(name string) {
	if k, ok := m.key(name); ok {
		delete(m.user, k)
	}
}

var _ Message = (*fakeMsg)(nil)

// t0 is a fixed instant for datetime properties.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
