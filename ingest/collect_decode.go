package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/remarket/remarket/internal/httpx"
)

// message is one Segment call (track, page, identify, screen, group,
// alias) after JSON decoding, before the e-commerce mapping. Values are
// as sent; cleaning happens in mapMessage.
type message struct {
	Type        string
	Event       string
	Name        string
	UserID      string
	AnonymousID string
	PreviousID  string
	GroupID     string
	MessageID   string
	WriteKey    string
	Times       clientTimes
	Properties  map[string]any
	Traits      map[string]any
	Context     map[string]any
}

// messageTypes are the Segment call types and the short path of each.
var messageTypes = map[string]string{
	"track": "t", "page": "p", "identify": "i", "screen": "s", "group": "g", "alias": "a",
}

// batchBody is the envelope of POST /v1/batch.
type batchBody struct {
	Batch    []json.RawMessage
	SentAt   string
	WriteKey string
}

// decodeObject parses one JSON object, keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, badJSON(err)
	}
	if obj == nil {
		return nil, httpx.Errorf(httpx.Invalid, "bad JSON: want an object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, httpx.Errorf(httpx.Invalid, "bad JSON: data after the object")
	}
	return obj, nil
}

// decodeBatch parses the envelope of a batch request; its messages stay
// raw so each can be measured against the per-event limit.
func decodeBatch(raw []byte) (batchBody, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return batchBody{}, badJSON(err)
	}
	if env == nil {
		return batchBody{}, httpx.Errorf(httpx.Invalid, "bad JSON: want an object")
	}
	var b batchBody
	list, ok := env["batch"]
	if !ok {
		return b, httpx.Errorf(httpx.Invalid, "missing batch: want {\"batch\": [ ... ]}")
	}
	if err := json.Unmarshal(list, &b.Batch); err != nil {
		return b, httpx.Errorf(httpx.Invalid, "batch: want an array of events")
	}
	if s, ok := env["sentAt"]; ok && json.Unmarshal(s, &b.SentAt) != nil && string(s) != "null" {
		return b, httpx.Errorf(httpx.Invalid, "sentAt: want an ISO 8601 string")
	}
	if s, ok := env["writeKey"]; ok && json.Unmarshal(s, &b.WriteKey) != nil && string(s) != "null" {
		return b, httpx.Errorf(httpx.Invalid, "writeKey: want a string")
	}
	return b, nil
}

func badJSON(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return httpx.Errorf(httpx.Invalid, fmt.Sprintf("bad JSON at byte %d: %s", syn.Offset, syn.Error()))
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return httpx.Errorf(httpx.Invalid, "bad JSON: want an object")
	}
	return httpx.Errorf(httpx.Invalid, "bad JSON: "+cleanText(err.Error(), 200))
}

// readMessage takes the known Segment fields out of a decoded object.
// kind is the call type from the URL ("" for a batch element, which must
// then say its type). A field of the wrong JSON type is a fieldError.
func readMessage(obj map[string]any, kind string) (message, error) {
	m := message{Type: kind}
	var err error
	str := func(key string, into *string) {
		v, ok := obj[key]
		if !ok || v == nil || err != nil {
			return
		}
		s, ok := textValue(v)
		if !ok {
			err = &fieldError{key, "want a string"}
			return
		}
		*into = s
	}
	object := func(key string, into *map[string]any) {
		v, ok := obj[key]
		if !ok || v == nil || err != nil {
			return
		}
		o, ok := v.(map[string]any)
		if !ok {
			err = &fieldError{key, "want an object"}
			return
		}
		*into = o
	}
	if kind == "" {
		str("type", &m.Type)
	}
	str("event", &m.Event)
	str("name", &m.Name)
	str("userId", &m.UserID)
	str("anonymousId", &m.AnonymousID)
	str("previousId", &m.PreviousID)
	str("groupId", &m.GroupID)
	str("messageId", &m.MessageID)
	str("writeKey", &m.WriteKey)
	object("properties", &m.Properties)
	object("traits", &m.Traits)
	object("context", &m.Context)
	var ts, orig, sent string
	str("timestamp", &ts)
	str("originalTimestamp", &orig)
	str("sentAt", &sent)
	if err != nil {
		return m, err
	}
	if _, known := messageTypes[m.Type]; !known {
		if m.Type == "" {
			return m, &fieldError{"type", "missing type (track, page, identify, screen, group or alias)"}
		}
		return m, &fieldError{"type", fmt.Sprintf("unknown type %q", cleanText(m.Type, 40))}
	}
	// Segment renames the client's timestamp to originalTimestamp on
	// receipt; accept either so re-played Segment exports work too.
	if orig == "" {
		orig = ts
	}
	if m.Times.Original, err = parseTimestamp("timestamp", orig); err != nil {
		return m, err
	}
	if m.Times.Sent, err = parseTimestamp("sentAt", sent); err != nil {
		return m, err
	}
	return m, nil
}

// withBatchSentAt applies the batch envelope's sentAt to a message that
// has none (analytics-node sends it once per batch).
func (m *message) withBatchSentAt(sent time.Time) {
	if m.Times.Sent.IsZero() {
		m.Times.Sent = sent
	}
}
