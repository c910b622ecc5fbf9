package amqp

// This file encodes and decodes the SASL frame bodies (Part 5 section 5.3.3).

func (m *SASLMechanisms) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descSASLMechanisms, depth)
	if m.Mechanisms == nil {
		w.symbols([]Symbol{})
	} else {
		w.symbols(m.Mechanisms)
	}
	return w.finish()
}

func decodeSASLMechanisms(d *decoder) (*SASLMechanisms, error) {
	m := &SASLMechanisms{}
	f := d.openFields("sasl-mechanisms")
	if f.need("sasl-server-mechanisms") {
		m.Mechanisms = f.symbols()
	}
	return m, f.close()
}

func (m *SASLInit) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descSASLInit, depth)
	w.sym(m.Mechanism)
	w.optBinary(m.InitialResponse)
	w.optStr(m.Hostname)
	return w.finish()
}

func decodeSASLInit(d *decoder) (*SASLInit, error) {
	m := &SASLInit{}
	f := d.openFields("sasl-init")
	if f.need("mechanism") {
		m.Mechanism = f.sym()
	}
	if f.has() {
		m.InitialResponse = f.binary()
	}
	if f.has() {
		m.Hostname = f.str()
	}
	return m, f.close()
}

func (m *SASLChallenge) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descSASLChallenge, depth)
	w.binary(m.Challenge)
	return w.finish()
}

func decodeSASLChallenge(d *decoder) (*SASLChallenge, error) {
	m := &SASLChallenge{}
	f := d.openFields("sasl-challenge")
	if f.need("challenge") {
		m.Challenge = f.binary()
	}
	return m, f.close()
}

func (m *SASLResponse) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descSASLResponse, depth)
	w.binary(m.Response)
	return w.finish()
}

func decodeSASLResponse(d *decoder) (*SASLResponse, error) {
	m := &SASLResponse{}
	f := d.openFields("sasl-response")
	if f.need("response") {
		m.Response = f.binary()
	}
	return m, f.close()
}

func (m *SASLOutcome) appendTo(b []byte, depth int) ([]byte, error) {
	w := beginList(b, descSASLOutcome, depth)
	w.ubyte(m.Code)
	w.optBinary(m.AdditionalData)
	return w.finish()
}

func decodeSASLOutcome(d *decoder) (*SASLOutcome, error) {
	m := &SASLOutcome{}
	f := d.openFields("sasl-outcome")
	if f.need("code") {
		m.Code = f.uint8()
	}
	if f.has() {
		m.AdditionalData = f.binary()
	}
	return m, f.close()
}
