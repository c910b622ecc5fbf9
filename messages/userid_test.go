package messages

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateUserIDValid(t *testing.T) {
	t.Parallel()
	for _, id := range validUserIDs {
		assert.NoError(t, ValidateUserID(id), "%q", id)
	}
}

func TestValidateUserIDInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidUserIDs {
		err := ValidateUserID(tc.id)
		ie := requireInvalid(t, err, FieldUserID)
		assert.Contains(t, ie.Problem, tc.problem, "%q", tc.id)
	}
}

func TestValidateUserIDDoesNotEchoInput(t *testing.T) {
	t.Parallel()
	id := "secret-token-value\r\n"
	err := ValidateUserID(id)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret-token-value")
}

// validUserIDs are accepted by ValidateUserID and by the schema.
var validUserIDs = []string{
	testGUID,
	testGUIDU,
	"4f1C2a7E-9b3d-4C8e-a1F0-6d2b8e9c7a51",
	"alice@contoso.com",
	"Alice.Smith@Contoso.COM",
	"$alice@contoso.com",
	"$a.b@contoso.com",
	"o'brien@contoso.com",
	"a-b_c!d#e^f~g@contoso.com",
	"alice_contoso.com#EXT#@fabrikam.onmicrosoft.com",
	"a@b.c",
	"a@1.2.3.c0m",
	"a@xn--bcher-kva.example",
	"a@b-c.d-e.f",
	strings.Repeat("a", 64) + "@" + strings.Repeat("b", 44) + ".com", // 113
	"a@" + strings.Repeat("b", 63) + ".com",
}

// invalidUserIDs are refused, with a phrase of the expected Problem.
var invalidUserIDs = []struct{ id, problem string }{
	{"", "empty"},
	{"00000000-0000-0000-0000-000000000000", "nil GUID"},
	{testGUID[:35], "no @"},
	{testGUID + "0", "no @"},
	{"4f1c2a7e9b3d4c8ea1f06d2b8e9c7a51", "no @"},
	{"{" + testGUID + "}", "no @"},
	{"4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a5g", "no @"},
	{"../../me", "no @"},
	{"..%2F", "no @"},
	{testGUID + "?$expand=x", "no @"},
	{testGUID + "#", "no @"},
	{testGUID + "/../../groups", "no @"},
	{"('$x@y')", "not allowed"},
	{"$batch", "no @"},
	{"me", "no @"},
	{"https://evil.example/", "no @"},
	{"//evil", "no @"},
	{"alice@contoso.com/../groups", "not allowed in a domain"},
	{"alice@contoso.com?x=1", "not allowed in a domain"},
	{"alice@contoso.com#frag", "not allowed in a domain"},
	{"ali%40ce@contoso.com", "not allowed"},
	{"ali\\ce@contoso.com", "not allowed"},
	{"ali/ce@contoso.com", "not allowed"},
	{"ali?ce@contoso.com", "not allowed"},
	{"ali:ce@contoso.com", "not allowed"},
	{"ali+ce@contoso.com", "not allowed"},
	{"alice\r\n@contoso.com", "control"},
	{"alice\x00@contoso.com", "control"},
	{"alice\x7f@contoso.com", "control"},
	{"alice\t@contoso.com", "control"},
	{" alice@contoso.com", "whitespace"},
	{"alice@contoso.com ", "whitespace"},
	{"４f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51", "non-ASCII"},
	{"alice\u200b@contoso.com", "non-ASCII"},
	{"alice\u202e@contoso.com", "non-ASCII"},
	{"аlice@contoso.com", "non-ASCII"},
	{"alice@contoso\xff.com", "non-ASCII"},
	{"alice@@contoso.com", "more than one @"},
	{"alice@contoso@com.com", "more than one @"},
	{"@contoso.com", "empty local part"},
	{"$@contoso.com", "after $"},
	{"$$alice@contoso.com", "not allowed"},
	{"al$ice@contoso.com", "not allowed"},
	{".alice@contoso.com", "dot"},
	{"alice.@contoso.com", "dot"},
	{"$.alice@contoso.com", "dot"},
	{"al..ice@contoso.com", "consecutive dots"},
	{"alice@", "empty domain"},
	{"alice@localhost", "fewer than two labels"},
	{"alice@contoso..com", "empty domain label"},
	{"alice@.contoso.com", "empty domain label"},
	{"alice@contoso.com.", "empty domain label"},
	{"alice@-contoso.com", "hyphen"},
	{"alice@contoso-.com", "hyphen"},
	{"alice@contoso.com-", "hyphen"},
	{"alice@con_toso.com", "not allowed in a domain"},
	{"alice@127.0.0.1", "all-numeric"},
	{"alice@contoso.123", "all-numeric"},
	{"alice@[127.0.0.1]", "not allowed in a domain"},
	{strings.Repeat("a", 65) + "@contoso.com", "local part longer than 64"},
	{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 45) + ".com", "longer than 113"},
	{"a@" + strings.Repeat("b", 64) + ".com", "longer than 63"},
}
