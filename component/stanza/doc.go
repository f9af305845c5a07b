// Package stanza holds the stanzas the gateway writes to the XMPP server
// (message, presence, iq) and the payload elements that go in them: delay
// (XEP-0203), stanza-id and origin-id (XEP-0359), reply (XEP-0461),
// out-of-band links (XEP-0066), processing hints (XEP-0334), chat states
// (XEP-0085), reactions (XEP-0444), nick (XEP-0172) and entity
// capabilities (XEP-0115).
//
// They are plain encoding/xml structs, kept apart from the component so
// that the protocol packages (the MUC service, MAM, …) build the stanzas
// they send themselves. Each element's XML name is fixed by its struct
// tag, so what is marshalled does not depend on who builds it. Nothing
// here does I/O or keeps state.
package stanza
