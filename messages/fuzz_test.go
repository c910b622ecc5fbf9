package messages

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkSafeUserID asserts the properties every accepted user id has, whatever
// the input: nothing that could steer a Graph URL.
func checkSafeUserID(t *testing.T, id string) {
	t.Helper()
	require.NotEmpty(t, id)
	require.LessOrEqual(t, len(id), MaxUPNLength)
	for i := 0; i < len(id); i++ {
		c := id[i]
		require.True(t, c > ' ' && c < 0x7f, "byte %#x in %q", c, id)
	}
	require.False(t, strings.ContainsAny(id, `/?%\:()[]{}"<>,;= `), "%q", id)
	require.NotContains(t, id, "..")
	if looksLikeGUID(id) {
		require.NotEqual(t, nilGUID, id)
		return
	}
	require.Equal(t, 1, strings.Count(id, "@"), "%q", id)
	// # is legal in a UPN's local part only (as in #EXT#); the Graph client
	// must percent-encode it. It never appears in the domain.
	_, domain, _ := strings.Cut(id, "@")
	require.NotContains(t, domain, "#")
	require.False(t, strings.HasPrefix(id, "."), "%q", id)
}

// checkInvalidError asserts err is a well-formed *InvalidError.
func checkInvalidError(t *testing.T, err error) *InvalidError {
	t.Helper()
	var ie *InvalidError
	require.True(t, errors.As(err, &ie), "%T %v", err, err)
	require.NotEmpty(t, ie.Field)
	require.NotEmpty(t, ie.Problem)
	require.LessOrEqual(t, len(ie.Problem), 300)
	require.LessOrEqual(t, len(ie.Field), 80)
	for _, s := range []string{ie.Field, ie.Problem} {
		for _, r := range s {
			require.True(t, r >= 0x20 && r < 0x7f, "unsafe rune %U in %q", r, s)
		}
	}
	return ie
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []struct{ body, ct string }{
		{`{"userId":"` + testGUID + `"}`, ContentTypeJSON},
		{`{"userId":"alice_contoso.com#EXT#@fabrikam.onmicrosoft.com","tenantId":"` + tenant + `","occurredAt":"2026-11-28T17:35:00Z"}`, ""},
		{`{"userId":"$a@b.cd","reason":null,"x":[1,{"y":true}]}`, "application/json; charset=utf-8"},
		{`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"userId":"a@b.cd"}}`, ContentTypeCloudEvent},
		{`{"userId":"../../me"}`, ContentTypeJSON},
		{`{"userId":"a","userId":"b"}`, ContentTypeJSON},
		{"\xEF\xBB\xBF{}", ContentTypeJSON},
		{`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`, ContentTypeJSON},
		{`{"userId":"` + testGUID + `"} x`, "text/plain"},
	} {
		f.Add([]byte(seed.body), seed.ct)
	}
	sch := compileSchema(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		raw := Raw{ContentType: contentType, Body: body}
		m, err := Decode(raw, DecodeOptions{})
		if err != nil {
			checkInvalidError(t, err)
			require.Equal(t, LicenseFixed{}, m)
			return
		}
		require.NoError(t, ValidateUserID(m.UserID))
		checkSafeUserID(t, m.UserID)
		require.LessOrEqual(t, len(body), MaxBodySize)
		require.True(t, utf8.Valid(body))
		require.True(t, json.Valid(body))

		// What Decode accepts, Encode reproduces, and Decode reads back.
		encoded, err := Encode(m)
		require.NoError(t, err)
		again, err := Decode(Raw{ContentType: ContentTypeJSON, Body: encoded}, DecodeOptions{})
		require.NoError(t, err)
		assertSameMessage(t, m, again)

		// A plain body Decode accepts, the schema accepts too.
		if m.CloudEvent == nil {
			assert.True(t, schemaAccepts(t, sch, body), "schema refuses %q", body)
		}
	})
}

func FuzzValidateUserID(f *testing.F) {
	for _, id := range validUserIDs {
		f.Add(id)
	}
	for _, tc := range invalidUserIDs {
		f.Add(tc.id)
	}
	sch := compileSchema(f)
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateUserID(id)
		if err != nil {
			ie := checkInvalidError(t, err)
			require.Equal(t, FieldUserID, ie.Field)
			if len(id) >= 4 {
				require.NotContains(t, ie.Error(), id)
			}
		} else {
			checkSafeUserID(t, id)
		}
		// The schema's userId rules agree with the Go validator. JSON
		// cannot carry invalid UTF-8, so only valid strings are compared.
		if utf8.ValidString(id) {
			body, mErr := json.Marshal(map[string]string{"userId": id})
			require.NoError(t, mErr)
			assert.Equal(t, err == nil, schemaAccepts(t, sch, body), "schema and ValidateUserID disagree on %q (%v)", id, err)
		}
	})
}
