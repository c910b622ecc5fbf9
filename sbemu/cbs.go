package sbemu

import (
	"log/slog"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

// handleCBS answers a $cbs request: put-token verifies the token and
// records a grant for the audience on this connection.
func (c *conn) handleCBS(req *amqp.Message) rpcResponse {
	op := stringProp(req.ApplicationProperties, "operation")
	if op != "put-token" {
		return rpcResponse{status: 400, desc: "unsupported CBS operation", condition: condNotImplemented}
	}
	tokType := stringProp(req.ApplicationProperties, "type")
	audience := stringProp(req.ApplicationProperties, "name")
	expiration := ""
	if v, ok := req.ApplicationProperties.Get("expiration"); ok {
		expiration = numberText(v)
	}
	v, err := req.Value()
	token, ok := v.(string)
	if err != nil || !ok {
		return rpcResponse{status: 400, desc: "the token must be an amqp-value string", condition: condDecode}
	}
	path, expires, err := c.s.auth.verify(tokType, token, audience, expiration, time.Now())
	if err != nil {
		c.log.Info("cbs_token_refused", slog.String("audience", audience), slog.String("reason", err.Error()))
		return rpcResponse{status: 401, desc: "unauthorized: " + err.Error(), condition: condUnauthorized}
	}
	// Like Service Bus, refuse a token for an entity that does not exist
	// (the SDK reports the 404 as CodeNotFound).
	if entity, _ := cutSuffixFold(path, suffixMgmt); entity != "" {
		if _, err := c.s.broker.Entity(entity); err != nil {
			return rpcResponse{status: statusNotFound, desc: entityNotFound(entity), condition: condNotFound}
		}
	}
	c.grants.add(path, expires)
	c.log.Debug("cbs_token_accepted", slog.String("audience", audience), slog.Time("expires", expires))
	return rpcResponse{status: 200, desc: "OK"}
}

// numberText renders an expiration property (text or a number) as text.
func numberText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case amqp.Symbol:
		return string(v)
	}
	if n, ok := asInt64(v); ok {
		return formatInt(n)
	}
	if t, ok := v.(time.Time); ok {
		return formatInt(t.Unix())
	}
	return ""
}
