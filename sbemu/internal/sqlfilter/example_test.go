package sqlfilter_test

import (
	"fmt"
	"strings"

	"github.com/licensefix/licensefix/sbemu/internal/sqlfilter"
)

// message is a minimal sqlfilter.Message: a label and user properties.
type message struct {
	label string
	props map[string]any
}

func (m *message) System(name string) (any, bool) {
	switch name {
	case "label":
		return m.label, true
	case "messageid", "correlationid", "to", "replyto", "sessionid":
		return nil, true // known, but unset in this example
	}
	return nil, false
}

func (m *message) User(name string) (any, bool) {
	for k, v := range m.props {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func (m *message) SetSystem(name string, v any) error {
	s, ok := v.(string)
	if name != "label" || !ok {
		return fmt.Errorf("cannot set %s to %v", name, v)
	}
	m.label = s
	return nil
}

func (m *message) SetUser(name string, v any) { m.props[name] = v }

func (m *message) RemoveUser(name string) { delete(m.props, name) }

func Example() {
	filter, err := sqlfilter.ParseFilter("sys.Label LIKE 'order-%' AND (quantity > 10 OR priority = 'high')")
	if err != nil {
		fmt.Println(err)
		return
	}
	action, err := sqlfilter.ParseAction("SET sys.Label = sys.Label + '-big'; SET quantity = quantity * 2; REMOVE priority")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filter)

	for _, m := range []*message{
		{label: "order-1", props: map[string]any{"quantity": 12}},
		{label: "order-2", props: map[string]any{"quantity": 3, "priority": "high"}},
		{label: "order-3", props: map[string]any{"quantity": 3}},
		{label: "invoice-4", props: map[string]any{"quantity": 50}},
		{label: "order-5", props: map[string]any{}}, // quantity unknown: no match
	} {
		ok, err := filter.Match(m)
		if err != nil {
			fmt.Println(err)
			continue
		}
		if !ok {
			fmt.Printf("%s: no match\n", m.label)
			continue
		}
		if err := action.Apply(m); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("match, now %s quantity=%v\n", m.label, m.props["quantity"])
	}

	_, err = sqlfilter.ParseFilter("color = 'red' AND (size > 3")
	fmt.Println(err)
	// Output:
	// sys.Label LIKE 'order-%' AND (user.quantity > 10 OR user.priority = 'high')
	// match, now order-1-big quantity=24
	// match, now order-2-big quantity=6
	// order-3: no match
	// invoice-4: no match
	// order-5: no match
	// sql filter: at 28: expected ")", found end of expression
}
