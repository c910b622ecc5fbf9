package cli

import (
	"log/slog"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/licensefix/licensefix/internal/envflag"
)

// Settings naming the entity a command works on: a queue, or a topic and
// one of its subscriptions.
const (
	EnvQueue        = "LICENSEFIX_QUEUE"
	EnvTopic        = "LICENSEFIX_TOPIC"
	EnvSubscription = "LICENSEFIX_SUBSCRIPTION"
)

// defaultQueue is the queue used when no entity setting is given.
const defaultQueue = "license-fixed"

// subscriptionName is what Service Bus accepts as a subscription name:
// letters, digits, periods, hyphens and underscores, at most 50
// (https://learn.microsoft.com/rest/api/servicebus/create-subscription).
// It also keeps the name safe inside the SQL string literal of the replay
// rule.
var subscriptionName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,50}$`)

// entity is the Service Bus entity a command works on: a queue, or (topic
// set) a topic and, for the commands that receive, one subscription.
type entity struct {
	queue, topic, subscription string
}

// isSubscription reports whether the entity is a topic subscription.
func (en entity) isSubscription() bool { return en.topic != "" && en.subscription != "" }

// String is the entity's path, as Service Bus names it: the queue, the
// topic, or topic/Subscriptions/subscription.
func (en entity) String() string {
	switch {
	case en.topic == "":
		return en.queue
	case en.subscription == "":
		return en.topic
	default:
		return en.topic + "/Subscriptions/" + en.subscription
	}
}

// kind is "queue", "topic" or "subscription", for messages.
func (en entity) kind() string {
	switch {
	case en.topic == "":
		return "queue"
	case en.subscription == "":
		return "topic"
	default:
		return "subscription"
	}
}

// sendTo is the entity a sender targets: the queue or the topic (Service
// Bus cannot send to a subscription).
func (en entity) sendTo() string {
	if en.topic != "" {
		return en.topic
	}
	return en.queue
}

// newReceiver opens a receiver on the queue or the subscription (or on its
// dead-letter subqueue, per o).
func (en entity) newReceiver(c *azservicebus.Client, o *azservicebus.ReceiverOptions) (*azservicebus.Receiver, error) {
	if en.isSubscription() {
		return c.NewReceiverForSubscription(en.topic, en.subscription, o)
	}
	return c.NewReceiverForQueue(en.queue, o)
}

// logAttrs are the entity's log fields: "entity" with its path, and
// "queue", or "topic" and "subscription".
func (en entity) logAttrs() []any {
	attrs := []any{slog.String("entity", en.String())}
	if en.topic == "" {
		return append(attrs, slog.String("queue", en.queue))
	}
	attrs = append(attrs, slog.String("topic", en.topic))
	if en.subscription != "" {
		attrs = append(attrs, slog.String("subscription", en.subscription))
	}
	return attrs
}

// entityRole says what a command does with the entity.
type entityRole int

const (
	// roleReceive consumes a queue or a subscription (run, dlq): a topic
	// needs a subscription.
	roleReceive entityRole = iota
	// roleSend sends to a queue or a topic (send): there is no
	// subscription setting.
	roleSend
)

// addEntitySettings binds the queue, topic and (to receive) subscription
// settings.
func (sb *serviceBusSettings) addEntitySettings(s *envflag.Set, role entityRole) {
	sb.role = role
	if role == roleSend {
		s.String(&sb.queue, "queue", EnvQueue, defaultQueue, "queue to send to; exclusive with "+EnvTopic)
		s.String(&sb.topic, "topic", EnvTopic, "", "topic to send to instead of a queue: every subscription whose rules match gets a copy")
		return
	}
	s.String(&sb.queue, "queue", EnvQueue, defaultQueue, "queue name; exclusive with "+EnvTopic+" and "+EnvSubscription)
	s.String(&sb.topic, "topic", EnvTopic, "", "topic whose subscription to consume instead of a queue (with "+EnvSubscription+")")
	s.String(&sb.subscription, "subscription", EnvSubscription, "", "subscription of "+EnvTopic+" to consume (with "+EnvTopic+")")
}

// resolveEntity validates the entity settings: exactly one of a queue (the
// default, license-fixed, when none is given) and a topic, the topic with a
// subscription when the command receives.
func (sb *serviceBusSettings) resolveEntity(s *envflag.Set) (entity, error) {
	queueGiven, topicGiven, subGiven := s.Given(EnvQueue), s.Given(EnvTopic), s.Given(EnvSubscription)
	topic, sub := strings.TrimSpace(sb.topic), strings.TrimSpace(sb.subscription)
	switch {
	case queueGiven && (topicGiven || subGiven):
		other := EnvTopic
		if sb.role == roleReceive {
			other += " and " + EnvSubscription
		}
		return entity{}, s.Invalid(EnvQueue, "give either %s or %s, not both", EnvQueue, other)
	case topicGiven && topic == "":
		return entity{}, s.Invalid(EnvTopic, "must not be empty")
	case subGiven && !topicGiven:
		return entity{}, s.Invalid(EnvTopic, "is required with %s (the topic the subscription belongs to)", EnvSubscription)
	case subGiven && !subscriptionName.MatchString(sub):
		return entity{}, s.Invalid(EnvSubscription, "%q is not a subscription name (1 to 50 letters, digits, periods, hyphens, underscores)", sub)
	case topicGiven && !subGiven && sb.role == roleReceive:
		return entity{}, s.Invalid(EnvSubscription, "is required with %s: messages are received from a subscription of the topic, not from the topic", EnvTopic)
	case topicGiven:
		return entity{topic: topic, subscription: sub}, nil
	}
	if q := strings.TrimSpace(sb.queue); q != "" {
		return entity{queue: q}, nil
	}
	return entity{}, s.Invalid(EnvQueue, "must not be empty")
}
