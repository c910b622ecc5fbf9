package messages

import (
	"bytes"
	_ "embed"
)

// SchemaID is the $id of the JSON Schema returned by Schema.
const SchemaID = "https://licensefix.github.io/schemas/license-fixed.schema.json"

//go:embed schema/license-fixed.schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) for the plain JSON body.
// The caller owns the returned slice.
//
// The schema states the field rules (userId pattern, types, lengths, formats).
// Some rules of Decode are not expressible in JSON Schema and hold only in Go:
// the 64 KiB size limit, the nesting limit, duplicate keys, the UTF-8 byte
// order mark, keys that differ from a field name only in letter case, and
// leap seconds in timestamps (the schema's date-time format accepts ":60").
func Schema() []byte {
	return bytes.Clone(schemaJSON)
}
