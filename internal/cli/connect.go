package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/licensefix/licensefix/internal/envflag"
)

// EnvConnectTimeout bounds how long send and dlq wait for Service Bus to
// answer their first call.
const EnvConnectTimeout = "LICENSEFIX_CONNECT_TIMEOUT"

// defaultConnectTimeout is well above a healthy connection (well under a
// second, a few seconds through a slow proxy) and well below the SDK's own
// retries against an endpoint that never answers (about 45 s).
const defaultConnectTimeout = 20 * time.Second

// addConnectTimeout binds --connect-timeout / LICENSEFIX_CONNECT_TIMEOUT.
func addConnectTimeout(s *envflag.Set, p *time.Duration) {
	s.Duration(p, "connect-timeout", EnvConnectTimeout, defaultConnectTimeout, "give up when Service Bus has not answered the first call within this time (unreachable endpoint, blocked port)")
}

// checkConnectTimeout rejects a timeout that is not positive.
func checkConnectTimeout(s *envflag.Set, d time.Duration) error {
	if d <= 0 {
		return s.Invalid(EnvConnectTimeout, "must be positive")
	}
	return nil
}

// firstContact runs op, the first call of a command that reaches Service
// Bus (the SDK connects lazily, on that call), within timeout. When the
// time runs out it returns an error saying what it was waiting for and
// where; the error of op is not included, so no SDK text (which may quote
// the endpoint's URL with its parameters) reaches the message.
func firstContact(ctx context.Context, timeout time.Duration, endpoint, what string, op func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := op(cctx)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		return fmt.Errorf("gave up after %s waiting for Service Bus at %s to %s: no answer "+
			"(check the endpoint, that the network lets AMQP through: port 5671, or 5672 for an emulator; "+
			"and the credentials; %s or --connect-timeout waits longer)", timeout, endpoint, what, EnvConnectTimeout)
	}
	return err
}

// endpoint names the Service Bus the settings point at, for messages: the
// namespace, or the host of the connection string's Endpoint (never the
// key).
func (sb *serviceBusSettings) endpoint() string {
	if sb.namespace != "" {
		return sb.namespace
	}
	for _, part := range strings.Split(sb.connectionString, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "Endpoint") {
			continue
		}
		if u, err := url.Parse(strings.TrimSpace(v)); err == nil && u.Host != "" {
			return u.Host
		}
	}
	return "the configured endpoint"
}
