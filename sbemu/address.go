package sbemu

import "strings"

// Link addresses and CBS audiences arrive in several forms, depending on
// the SDK:
//
//	license-fixed                         Go and Node link addresses
//	/license-fixed                        a rooted path
//	sb://127.0.0.1:5672/license-fixed     Node and Python CBS audiences
//	amqp://127.0.0.1:5672/license-fixed   Go CBS audiences (TLS off)
//	amqps://127.0.0.1/license-fixed       Python (uamqp) link addresses
//
// each optionally followed by /$DeadLetterQueue, /$management or, for a
// subscription, /Subscriptions/<sub>. Service Bus names a node by "the
// relative name of the entity inside of the Service Bus namespace" (AMQP
// 1.0 in Service Bus and Event Hubs protocol guide, "Links"; the CBS
// put-token name is likewise "the path to the queue, or
// topic/subscription"), and it takes the full-URI forms as well: Microsoft's
// Python SDK on uamqp attaches with them against the real service. So the
// emulator keeps only the URI's path and never compares the host, which is
// whatever name the client used to reach it.

// nodePath reduces a link address or a CBS audience to the node path the
// broker knows: the URI's scheme and authority are dropped, as are leading
// and trailing slashes, so every form above becomes "license-fixed". Case
// is kept (entity names compare case-insensitively further on). "" is the
// namespace root.
func nodePath(addr string) string {
	s := strings.TrimSpace(addr)
	if i := strings.Index(s, "://"); i > 0 && isScheme(s[:i]) {
		s = s[i+len("://"):]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[j:]
		} else {
			s = "" // scheme://host only: the namespace itself
		}
	}
	return strings.Trim(s, "/")
}

// isScheme reports whether s is a URI scheme (RFC 3986: a letter, then
// letters, digits, "+", "-" or "."), so that "://" later in a path is not
// mistaken for the end of one.
func isScheme(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// resourcePath reduces a SAS token's signed resource (sr) to an entity
// path. Unlike an audience, a resource written without a scheme starts
// with the host ("myns.servicebus.windows.net/queue", the form of
// Microsoft's SAS examples), unless it starts with a slash.
func resourcePath(sr string) string {
	s := strings.TrimSpace(sr)
	if i := strings.Index(s, "://"); (i <= 0 || !isScheme(s[:i])) && !strings.HasPrefix(s, "/") {
		s = "sb://" + s
	}
	return nodePath(s)
}
