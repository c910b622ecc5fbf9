package messages_test

import (
	"errors"
	"fmt"

	"github.com/licensefix/licensefix/messages"
)

func ExampleDecode() {
	raw := messages.Raw{
		ContentType: messages.ContentTypeJSON,
		Body:        []byte(`{"userId":"alice@contoso.com","correlationId":"hr-4711","occurredAt":"2026-11-28T17:35:00Z"}`),
	}
	m, err := messages.Decode(raw, messages.DecodeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.UserID, m.CorrelationID, m.OccurredAt.Format("2006-01-02 15:04"))

	// An invalid message yields an *InvalidError: dead-letter it.
	_, err = messages.Decode(messages.Raw{Body: []byte(`{"userId":"../../me"}`)}, messages.DecodeOptions{})
	var invalid *messages.InvalidError
	if errors.As(err, &invalid) {
		fmt.Println(invalid.Field, "-", invalid.Problem)
	}
	// Output:
	// alice@contoso.com hr-4711 2026-11-28 17:35
	// userId - is neither a GUID nor a userPrincipalName (no @)
}

func ExampleDecode_cloudEventBinary() {
	raw := messages.Raw{
		ContentType: messages.ContentTypeJSON,
		ApplicationProperties: map[string]any{
			"cloudEvents:specversion": "1.0",
			"cloudEvents:id":          "5d0c6a52",
			"cloudEvents:source":      "/hr/workday",
			"cloudEvents:type":        "com.example.license.fixed",
		},
		Body: []byte(`{"userId":"4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"}`),
	}
	opts := messages.DecodeOptions{CloudEventTypes: []string{"com.example.license.fixed"}}
	m, err := messages.Decode(raw, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.UserID, m.CloudEvent.Mode, m.CloudEvent.Type)
	// Output:
	// 4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51 binary com.example.license.fixed
}

func ExampleValidateUserID() {
	for _, id := range []string{
		"4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51",
		"alice_contoso.com#EXT#@fabrikam.onmicrosoft.com",
		"00000000-0000-0000-0000-000000000000",
		"4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51?$expand=manager",
		"alice..smith@contoso.com",
	} {
		fmt.Println(messages.ValidateUserID(id))
	}
	// Output:
	// <nil>
	// <nil>
	// invalid message: userId: is the nil GUID
	// invalid message: userId: is neither a GUID nor a userPrincipalName (no @)
	// invalid message: userId: has two consecutive dots in the local part
}

func ExampleEncodeCloudEvent() {
	body, err := messages.EncodeCloudEvent(messages.LicenseFixed{UserID: "alice@contoso.com"},
		"5d0c6a52", "/hr/workday", "com.example.license.fixed")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(body))
	// Output:
	// {"specversion":"1.0","id":"5d0c6a52","source":"/hr/workday","type":"com.example.license.fixed","datacontenttype":"application/json","data":{"userId":"alice@contoso.com"}}
}

func ExampleEncode() {
	body, err := messages.Encode(messages.LicenseFixed{UserID: "alice@contoso.com", Reason: "seat freed"})
	fmt.Println(string(body), err)
	_, err = messages.Encode(messages.LicenseFixed{UserID: "alice@contoso.com/../groups"})
	fmt.Println(err)
	// Output:
	// {"userId":"alice@contoso.com","reason":"seat freed"} <nil>
	// invalid message: userId: has a character not allowed in a domain
}
