// Package messages is the contract of the "user license fixed" message that
// upstream provisioning systems and HR workflows put on the licensefix queue.
//
// The worker decodes every received message with [Decode]; a message it
// rejects is dead-lettered as invalid without any call to Microsoft Graph.
// The user id ends up in a Graph URL path, so Decode is a security boundary:
// it accepts only the forms below and refuses everything else with an
// [*InvalidError] whose Problem never quotes more than a short, escaped
// excerpt of the input. Producers build bodies with [Encode] or
// [EncodeCloudEvent] and can check their own output against [Schema].
//
// # Plain JSON
//
// Content type application/json (a charset parameter, if any, must be
// utf-8), or no content type at all:
//
//	{"userId": "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"}
//
//	{
//	  "userId": "alice@contoso.com",
//	  "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
//	  "correlationId": "hr-4711",
//	  "source": "workday",
//	  "reason": "license reassigned after department change",
//	  "occurredAt": "2026-11-28T17:35:00Z"
//	}
//
// userId is required. It is an object id, a canonical GUID (8-4-4-4-12
// hexadecimal digits, either case, not the nil GUID), or a userPrincipalName
// under Entra's rules, as checked by [ValidateUserID]: the local part uses
// ASCII letters, digits and ' . - _ ! # ^ ~, may begin with $, has no
// leading, trailing or doubled dot and is at most 64 characters; the domain is
// two or more DNS labels whose last is not all digits; the whole name is at
// most 113 characters. The B2B guest form
// "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com" is accepted (the Graph
// client must percent-encode the # in the URL path).
//
// The other fields are optional. When present they must be strings; null
// counts as absent. tenantId is a GUID other than the nil GUID; occurredAt is
// an RFC 3339 date-time; correlationId, source and reason are at most 256
// characters without control characters, line separators or bidirectional
// formatting characters. Unknown fields are ignored.
//
// The body as a whole must be valid UTF-8 without a byte order mark, at most
// [MaxBodySize] bytes, a single JSON object with nothing after it, nested at
// most [MaxDepth] levels, without duplicate keys at any level (compared after
// unescaping), and without keys that differ from a field name only in letter
// case ("UserId"), which case-insensitive decoders would confuse with it.
//
// # CloudEvents 1.0, structured mode
//
// Content type application/cloudevents+json (charset, if any, utf-8). The
// body is a CloudEvent whose data is the object above:
//
//	{
//	  "specversion": "1.0",
//	  "id": "5d0c6a52-7c1e-4d4b-9a53-0b8e7f5f2c11",
//	  "source": "/hr/workday",
//	  "type": "com.example.license.fixed",
//	  "time": "2026-11-28T17:35:00Z",
//	  "datacontenttype": "application/json",
//	  "data": {"userId": "alice@contoso.com"}
//	}
//
// specversion must be "1.0"; id, source and type are required non-empty
// strings (at most 256 characters, no control characters); subject and time
// are optional; datacontenttype, if present, must be application/json; data
// must be a JSON object (data_base64 is refused).
//
// # CloudEvents 1.0, binary mode
//
// Content type application/json or none, the context attributes in
// application properties and the body holding the data object itself:
//
//	cloudEvents:specversion = "1.0"
//	cloudEvents:id          = "5d0c6a52-7c1e-4d4b-9a53-0b8e7f5f2c11"
//	cloudEvents:source      = "/hr/workday"
//	cloudEvents:type        = "com.example.license.fixed"
//	cloudEvents:subject     = "alice"                  (optional)
//	cloudEvents:time        = "2026-11-28T17:35:00Z"   (optional; an AMQP timestamp also works)
//	body: {"userId": "alice@contoso.com"}
//
// The prefix cloudEvents_ (which the AMQP binding permits for stacks that
// restrict property names) is accepted too, and prefixes are matched without
// regard to letter case. Any property with either prefix makes the message a
// binary-mode CloudEvent, so all required attributes must then be present;
// an attribute given twice (say under both prefixes) is refused. In errors
// such properties are named with the canonical prefix, e.g.
// "cloudEvents:type".
//
// [DecodeOptions.CloudEventTypes], when non-empty, lists the CloudEvent types
// accepted; any other type is invalid (Field "type", or "cloudEvents:type" in
// binary mode). Plain JSON messages carry no type and are not affected.
//
// # Errors
//
// Decode returns only [*InvalidError]. Field names what is wrong with the
// Field* constants: "body" for the body as a whole, "contentType", a message
// field such as "userId" (also inside a CloudEvent's data), or a CloudEvent
// attribute. Problem is a sentence for humans, safe for logs and dead-letter
// descriptions; do not parse it.
package messages
