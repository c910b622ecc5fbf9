package messages

import "errors"

var errTODO = errors.New("messages: not implemented yet")

// Decode parses and validates a received message (plain JSON, or CloudEvents
// 1.0 structured or binary mode). Any failure is an *InvalidError.
func Decode(raw Raw, opts DecodeOptions) (LicenseFixed, error) { panic(errTODO) }

// ValidateUserID checks an object id (canonical GUID, not nil) or a
// userPrincipalName against Entra's rules; failures are *InvalidError.
func ValidateUserID(id string) error { panic(errTODO) }

// Encode returns the JSON body (content type application/json) for m after validating it.
func Encode(m LicenseFixed) ([]byte, error) { panic(errTODO) }

// EncodeCloudEvent returns a structured-mode CloudEvent (content type
// application/cloudevents+json) carrying m as data, with the given id, source and type.
func EncodeCloudEvent(m LicenseFixed, id, source, eventType string) ([]byte, error) { panic(errTODO) }

// Schema returns the JSON Schema (draft 2020-12) for the plain JSON body.
func Schema() []byte { panic(errTODO) }
