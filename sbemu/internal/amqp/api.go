package amqp

// This file is the codec's public contract: the value types, performatives,
// frames and messages that the server in package sbemu is written against.
// Field lists follow the AMQP 1.0 specification (Part 2 transport, Part 3
// messaging, Part 5 security); defaults are noted where the spec gives one.

import "time"

// Symbol is the AMQP symbol type: an ASCII string used for names and keys.
type Symbol string

// UUID is the AMQP uuid type, 16 bytes in RFC 4122 order.
type UUID [16]byte

// Char is the AMQP char type: one UTF-32BE code point.
type Char rune

// Decimal32 is the raw IEEE 754 decimal32 bit pattern (carried, never computed on).
type Decimal32 [4]byte

// Decimal64 is the raw IEEE 754 decimal64 bit pattern.
type Decimal64 [8]byte

// Decimal128 is the raw IEEE 754 decimal128 bit pattern.
type Decimal128 [16]byte

// Described is a described value whose descriptor is not one the codec maps
// to a Go struct. Descriptor is a uint64 (numeric code) or a Symbol.
type Described struct {
	Descriptor any
	Value      any
}

// Array is an AMQP array: every element shares one constructor. Code is the
// element type code (for example TypeCodeLong, TypeCodeTimestamp,
// TypeCodeUUID, TypeCodeSym8/Sym32, TypeCodeStr8/Str32). When Descriptor is
// non-nil the elements are described values sharing that descriptor.
type Array struct {
	Code       TypeCode
	Descriptor any
	Values     []any
}

// Pair is one entry of a Map.
type Pair struct {
	Key   any
	Value any
}

// Map is an AMQP map kept in wire order; keys may be of any AMQP type.
type Map []Pair

// TypeCode is an AMQP format code.
type TypeCode uint8

// Format codes of the AMQP 1.0 type system.
const (
	TypeCodeDescribed  TypeCode = 0x00
	TypeCodeNull       TypeCode = 0x40
	TypeCodeBool       TypeCode = 0x56
	TypeCodeBoolTrue   TypeCode = 0x41
	TypeCodeBoolFalse  TypeCode = 0x42
	TypeCodeUbyte      TypeCode = 0x50
	TypeCodeUshort     TypeCode = 0x60
	TypeCodeUint       TypeCode = 0x70
	TypeCodeSmallUint  TypeCode = 0x52
	TypeCodeUint0      TypeCode = 0x43
	TypeCodeUlong      TypeCode = 0x80
	TypeCodeSmallUlong TypeCode = 0x53
	TypeCodeUlong0     TypeCode = 0x44
	TypeCodeByte       TypeCode = 0x51
	TypeCodeShort      TypeCode = 0x61
	TypeCodeInt        TypeCode = 0x71
	TypeCodeSmallint   TypeCode = 0x54
	TypeCodeLong       TypeCode = 0x81
	TypeCodeSmalllong  TypeCode = 0x55
	TypeCodeFloat      TypeCode = 0x72
	TypeCodeDouble     TypeCode = 0x82
	TypeCodeDecimal32  TypeCode = 0x74
	TypeCodeDecimal64  TypeCode = 0x84
	TypeCodeDecimal128 TypeCode = 0x94
	TypeCodeChar       TypeCode = 0x73
	TypeCodeTimestamp  TypeCode = 0x83
	TypeCodeUUID       TypeCode = 0x98
	TypeCodeVbin8      TypeCode = 0xa0
	TypeCodeVbin32     TypeCode = 0xb0
	TypeCodeStr8       TypeCode = 0xa1
	TypeCodeStr32      TypeCode = 0xb1
	TypeCodeSym8       TypeCode = 0xa3
	TypeCodeSym32      TypeCode = 0xb3
	TypeCodeList0      TypeCode = 0x45
	TypeCodeList8      TypeCode = 0xc0
	TypeCodeList32     TypeCode = 0xd0
	TypeCodeMap8       TypeCode = 0xc1
	TypeCodeMap32      TypeCode = 0xd1
	TypeCodeArray8     TypeCode = 0xe0
	TypeCodeArray32    TypeCode = 0xf0
)

// Role is a link role: false for sender, true for receiver.
type Role bool

// Link roles.
const (
	RoleSender   Role = false
	RoleReceiver Role = true
)

// Sender settle modes (attach snd-settle-mode).
const (
	SndSettleModeUnsettled uint8 = 0
	SndSettleModeSettled   uint8 = 1
	SndSettleModeMixed     uint8 = 2
)

// Receiver settle modes (attach rcv-settle-mode).
const (
	RcvSettleModeFirst  uint8 = 0
	RcvSettleModeSecond uint8 = 1
)

// Frame types.
const (
	FrameTypeAMQP uint8 = 0x00
	FrameTypeSASL uint8 = 0x01
)

// Protocol ids carried in the 8-byte protocol header.
const (
	ProtocolAMQP uint8 = 0
	ProtocolTLS  uint8 = 2
	ProtocolSASL uint8 = 3
)

// ProtocolHeader is the 8-byte header "AMQP" id major minor revision.
type ProtocolHeader struct {
	ID       uint8
	Major    uint8
	Minor    uint8
	Revision uint8
}

// Body is a frame body: one of the performatives below or a SASL frame body.
// The set is closed; a nil Body in a Frame is an empty (heartbeat) frame.
type Body interface{ frameBody() }

// Frame is one AMQP or SASL frame.
type Frame struct {
	Type    uint8
	Channel uint16
	Body    Body   // nil for an empty frame (heartbeat)
	Payload []byte // transfer payload; only with *Transfer
}

// Error is the AMQP error type (amqp:error:list, 0x1d).
type Error struct {
	Condition   Symbol
	Description string
	Info        Map
}

// Open is the open performative (0x10).
type Open struct {
	ContainerID         string
	Hostname            string
	MaxFrameSize        uint32 // default 4294967295
	ChannelMax          uint16 // default 65535
	IdleTimeout         uint32 // milliseconds; 0 = none
	OutgoingLocales     []Symbol
	IncomingLocales     []Symbol
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          Map
}

// Begin is the begin performative (0x11).
type Begin struct {
	RemoteChannel       *uint16
	NextOutgoingID      uint32
	IncomingWindow      uint32
	OutgoingWindow      uint32
	HandleMax           uint32 // default 4294967295
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          Map
}

// Source is the messaging source (0x28).
type Source struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          Symbol // default session-end
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties Map
	DistributionMode      Symbol
	Filter                Map
	DefaultOutcome        any
	Outcomes              []Symbol
	Capabilities          []Symbol
}

// Target is the messaging target (0x29).
type Target struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          Symbol
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties Map
	Capabilities          []Symbol
}

// Attach is the attach performative (0x12). Nil pointers are absent fields.
type Attach struct {
	Name                 string
	Handle               uint32
	Role                 Role
	SndSettleMode        *uint8 // default mixed
	RcvSettleMode        *uint8 // default first
	Source               *Source
	Target               *Target
	Unsettled            Map
	IncompleteUnsettled  bool
	InitialDeliveryCount *uint32
	MaxMessageSize       *uint64
	OfferedCapabilities  []Symbol
	DesiredCapabilities  []Symbol
	Properties           Map
}

// Flow is the flow performative (0x13).
type Flow struct {
	NextIncomingID *uint32
	IncomingWindow uint32
	NextOutgoingID uint32
	OutgoingWindow uint32
	Handle         *uint32
	DeliveryCount  *uint32
	LinkCredit     *uint32
	Available      *uint32
	Drain          bool
	Echo           bool
	Properties     Map
}

// Transfer is the transfer performative (0x14). Its payload travels in Frame.Payload.
type Transfer struct {
	Handle        uint32
	DeliveryID    *uint32
	DeliveryTag   []byte
	MessageFormat *uint32
	Settled       *bool
	More          bool
	RcvSettleMode *uint8
	State         DeliveryState
	Resume        bool
	Aborted       bool
	Batchable     bool
}

// Disposition is the disposition performative (0x15).
type Disposition struct {
	Role      Role
	First     uint32
	Last      *uint32
	Settled   bool
	State     DeliveryState
	Batchable bool
}

// Detach is the detach performative (0x16).
type Detach struct {
	Handle uint32
	Closed bool
	Error  *Error
}

// End is the end performative (0x17).
type End struct {
	Error *Error
}

// Close is the close performative (0x18).
type Close struct {
	Error *Error
}

// SASLMechanisms is sasl-mechanisms (0x40).
type SASLMechanisms struct {
	Mechanisms []Symbol
}

// SASLInit is sasl-init (0x41).
type SASLInit struct {
	Mechanism       Symbol
	InitialResponse []byte
	Hostname        string
}

// SASLChallenge is sasl-challenge (0x42).
type SASLChallenge struct {
	Challenge []byte
}

// SASLResponse is sasl-response (0x43).
type SASLResponse struct {
	Response []byte
}

// SASL outcome codes.
const (
	SASLCodeOK      uint8 = 0
	SASLCodeAuth    uint8 = 1
	SASLCodeSys     uint8 = 2
	SASLCodeSysPerm uint8 = 3
	SASLCodeSysTemp uint8 = 4
)

// SASLOutcome is sasl-outcome (0x44).
type SASLOutcome struct {
	Code           uint8
	AdditionalData []byte
}

func (*Open) frameBody()           {}
func (*Begin) frameBody()          {}
func (*Attach) frameBody()         {}
func (*Flow) frameBody()           {}
func (*Transfer) frameBody()       {}
func (*Disposition) frameBody()    {}
func (*Detach) frameBody()         {}
func (*End) frameBody()            {}
func (*Close) frameBody()          {}
func (*SASLMechanisms) frameBody() {}
func (*SASLInit) frameBody()       {}
func (*SASLChallenge) frameBody()  {}
func (*SASLResponse) frameBody()   {}
func (*SASLOutcome) frameBody()    {}

// DeliveryState is one of Received, Accepted, Rejected, Released, Modified.
type DeliveryState interface{ deliveryState() }

// Received is the received delivery state (0x23).
type Received struct {
	SectionNumber uint32
	SectionOffset uint64
}

// Accepted is the accepted outcome (0x24).
type Accepted struct{}

// Rejected is the rejected outcome (0x25).
type Rejected struct {
	Error *Error
}

// Released is the released outcome (0x26).
type Released struct{}

// Modified is the modified outcome (0x27).
type Modified struct {
	DeliveryFailed     bool
	UndeliverableHere  bool
	MessageAnnotations Map
}

func (*Received) deliveryState() {}
func (*Accepted) deliveryState() {}
func (*Rejected) deliveryState() {}
func (*Released) deliveryState() {}
func (*Modified) deliveryState() {}

// Header is the message header section (0x70). It is always encoded with all
// five fields so that delivery-count is present even when 0.
type Header struct {
	Durable       bool
	Priority      uint8  // default 4
	TTL           uint32 // milliseconds; 0 = none
	FirstAcquirer bool
	DeliveryCount uint32
}

// Properties is the message properties section (0x73).
// MessageID and CorrelationID hold uint64, UUID, []byte or string.
type Properties struct {
	MessageID          any
	UserID             []byte
	To                 string
	Subject            string
	ReplyTo            string
	CorrelationID      any
	ContentType        Symbol
	ContentEncoding    Symbol
	AbsoluteExpiryTime time.Time
	CreationTime       time.Time
	GroupID            string
	GroupSequence      *uint32
	ReplyToGroupID     string
}

// BatchMessageFormat is the message-format of a Service Bus batch transfer:
// each data section of the body holds one complete encoded message.
const BatchMessageFormat uint32 = 0x80013700

// Message is an AMQP message. Header, annotations, properties and
// application-properties are decoded; the body sections and footer are kept
// as the exact bytes received (RawBody) and written back unchanged.
type Message struct {
	Header                *Header
	DeliveryAnnotations   Map
	MessageAnnotations    Map
	Properties            *Properties
	ApplicationProperties Map
	RawBody               []byte // encoded body sections (data / amqp-sequence / amqp-value) followed by any footer
}
