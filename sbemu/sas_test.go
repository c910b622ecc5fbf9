package sbemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// signSAS builds a SharedAccessSignature token the way the Go SDK does.
func signSAS(resource, keyName, key string, expiry time.Time) string {
	sr := strings.ToLower(url.QueryEscape(resource))
	se := strconv.FormatInt(expiry.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(sr + "\n" + se))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return "SharedAccessSignature sr=" + sr + "&sig=" + sig + "&se=" + se + "&skn=" + keyName
}

// trimEndpoint turns "sb://host:port/" into "host:port".
func trimEndpoint(endpoint string) string {
	s := strings.TrimPrefix(endpoint, "sb://")
	return strings.TrimSuffix(s, "/")
}
