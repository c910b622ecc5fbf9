package graph

import (
	"context"
	"errors"

	"github.com/licensefix/licensefix/retry"
)

var errTODO = errors.New("graph: not implemented yet")

// Client calls the reprocess action. It classifies failures and never retries
// by itself (apart from one forced token refresh on a 401).
type Client struct{}

// New validates cfg (beta outside global, AuthNone off loopback, missing
// credential, bad URL are errors naming the setting) and returns a Client.
func New(cfg Config) (*Client, error) { panic(errTODO) }

// Reprocess asks Graph to reprocess userID's license assignments. userID
// must already be validated (messages.ValidateUserID); it is escaped anyway.
// Failures are *Error.
func (c *Client) Reprocess(ctx context.Context, userID string) (Result, error) { panic(errTODO) }

// Error implements error without secrets.
func (e *Error) Error() string { panic(errTODO) }

// Unwrap returns the transport cause.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: the *Error's class, Transient for
// context deadline/network errors, Permanent for anything unknown.
func ClassOf(err error) retry.Class { panic(errTODO) }
