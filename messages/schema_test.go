package messages

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compileSchema compiles Schema() with format assertions on, so that
// occurredAt's date-time format is enforced as Decode enforces it.
func compileSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	require.NoError(tb, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(tb, c.AddResource(SchemaID, doc))
	sch, err := c.Compile(SchemaID)
	require.NoError(tb, err)
	return sch
}

// schemaAccepts validates body against sch.
func schemaAccepts(tb testing.TB, sch *jsonschema.Schema, body []byte) bool {
	tb.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	require.NoError(tb, err, "%s", body)
	return sch.Validate(inst) == nil
}

func TestSchemaIsDraft202012WithID(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(Schema(), &doc))
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["$schema"])
	assert.Equal(t, SchemaID, doc["$id"])
	assert.Equal(t, []any{"userId"}, doc["required"])
	assert.Equal(t, true, doc["additionalProperties"])

	// The caller owns the returned slice.
	s := Schema()
	s[0] = 'x'
	assert.Equal(t, byte('{'), Schema()[0])
}

func TestExamplesAgreeWithSchemaAndDecode(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("examples", dir, "*.json"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(files), 5, "examples/%s", dir)
		for _, file := range files {
			body, err := os.ReadFile(file)
			require.NoError(t, err)
			_, decErr := Decode(Raw{ContentType: ContentTypeJSON, Body: body}, DecodeOptions{})
			schemaOK := schemaAccepts(t, sch, body)
			if dir == "valid" {
				assert.NoError(t, decErr, file)
				assert.True(t, schemaOK, "schema refuses %s", file)
			} else {
				requireInvalid(t, decErr, "")
				assert.False(t, schemaOK, "schema accepts %s", file)
			}
		}
	}
}

// TestSchemaAgreesWithValidateUserID holds the schema's userId rules to the
// Go validator over the whole user id table.
func TestSchemaAgreesWithValidateUserID(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	check := func(id string, wantValid bool) {
		body, err := json.Marshal(map[string]string{"userId": id})
		require.NoError(t, err)
		assert.Equal(t, wantValid, schemaAccepts(t, sch, body), "schema on %q", id)
		assert.Equal(t, wantValid, ValidateUserID(id) == nil, "ValidateUserID on %q", id)
	}
	for _, id := range validUserIDs {
		check(id, true)
	}
	for _, tc := range invalidUserIDs {
		check(tc.id, false)
	}
}

// TestSchemaAgreesOnOptionalFields holds the schema's optional-field rules to
// Decode's.
func TestSchemaAgreesOnOptionalFields(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	long := string(bytes.Repeat([]byte("é"), MaxTextLength))
	for _, tc := range []struct {
		field string
		value any
		valid bool
	}{
		{"tenantId", tenant, true},
		{"tenantId", nil, true},
		{"tenantId", "", false},
		{"tenantId", nilGUID, false},
		{"tenantId", testGUID + "x", false},
		{"tenantId", 5, false},
		{"reason", "", true},
		{"reason", long, true},
		{"reason", long + "x", false},
		{"reason", "tab\there", false},
		{"reason", "del\x7f", false},
		{"reason", "c1\u0085", false},
		{"reason", "ls\u2028", false},
		{"reason", "bidi\u2066", false},
		{"reason", "emoji 🎉 ok", true},
		{"reason", false, false},
		{"source", []any{"x"}, false},
		{"correlationId", "abc-123", true},
		{"occurredAt", "2026-11-28T17:35:00Z", true},
		{"occurredAt", "2026-11-28t17:35:00.5z", true},
		{"occurredAt", "2026-11-28T17:35:00-08:00", true},
		{"occurredAt", "2026-11-28T17:35:00", false},
		{"occurredAt", "2026-02-30T00:00:00Z", false},
		{"occurredAt", "2026-11-28 17:35:00Z", false},
		{"occurredAt", "", false},
		{"occurredAt", "2026-11-28T17:35:00+23:59", true},
		{"occurredAt", "0000-01-01T00:00:00Z", true},
		{"occurredAt", "2026-11-28T17:35:00+24:00", false},
		{"occurredAt", "2026-11-28T17:35:00+00:60", false},
		{"occurredAt", "2026-11-28T17:35:00,5Z", false},
		{"occurredAt", "2026-11-28T17:35:00.Z", false},
		{"occurredAt", "+2026-11-28T17:35:00Z", false},
		{"userid", "x", false},
		{"USERID", "x", false},
		{"Reason", "x", false},
		{"reasons", "x", true},
		{"\u017fource", "x", false}, // long s folds to s
		{"user\u0131d", "x", true},  // dotless i is not a case variant
		{"userId\u200b", "x", true},
	} {
		body, err := json.Marshal(map[string]any{"userId": testGUID, tc.field: tc.value})
		require.NoError(t, err)
		_, decErr := Decode(Raw{Body: body}, DecodeOptions{})
		assert.Equal(t, tc.valid, decErr == nil, "Decode on %s: %v", body, decErr)
		assert.Equal(t, tc.valid, schemaAccepts(t, sch, body), "schema on %s", body)
	}
}
