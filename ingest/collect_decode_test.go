package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadMessageErrorsNameTheProblem(t *testing.T) {
	cases := []struct{ kind, body, want string }{
		{"track", `{"event": `, "bad JSON"},
		{"track", `[1,2]`, "bad JSON: want an object"},
		{"track", `{"a":1} {"b":2}`, "data after the object"},
		{"track", `{"event": ["x"]}`, "event: want a string"},
		{"track", `{"properties": "x"}`, "properties: want an object"},
		{"track", `{"timestamp": "yesterday"}`, "timestamp: bad timestamp"},
		{"track", `{"sentAt": 5}`, "sentAt: bad timestamp"},
		{"", `{"event": "x"}`, "missing type"},
		{"", `{"type": "boom"}`, `unknown type "boom"`},
	}
	for _, c := range cases {
		obj, err := decodeObject([]byte(c.body))
		if err == nil {
			_, err = readMessage(obj, c.kind)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.body, err, c.want)
		}
	}
}

func TestDecodeBatchEnvelope(t *testing.T) {
	b, err := decodeBatch([]byte(`{"batch": [{"type":"track"}, {"type":"page"}], "sentAt": "2024-05-01T12:00:00Z", "writeKey": "wk"}`))
	if err != nil || len(b.Batch) != 2 || b.WriteKey != "wk" || b.SentAt == "" {
		t.Fatalf("batch %+v, %v", b, err)
	}
	for body, want := range map[string]string{
		`{}`:                         "missing batch",
		`{"batch": {}}`:              "batch: want an array",
		`{"batch": [], "sentAt": 1}`: "sentAt",
		`nope`:                       "bad JSON",
	} {
		if _, err := decodeBatch([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
}

// FuzzCollectJSON: any body must either be refused with an error or give
// events whose stored text is valid UTF-8, capped, and whose free-form
// properties are valid JSON.
func FuzzCollectJSON(f *testing.F) {
	for _, seed := range []string{
		`{"batch":[{"type":"track","event":"Product Viewed","anonymousId":"a","properties":{"product_id":"P1","price":9.5}}],"sentAt":"2024-05-01T12:00:00Z"}`,
		`{"batch":[{"type":"identify","userId":"u","traits":{"email":"a@b.c"}},{"type":"page","anonymousId":"a","name":"Home"}]}`,
		`{"type":"track","event":"Order Completed","userId":7,"properties":{"revenue":"12.5","products":[{"id":1,"quantity":2}]}}`,
		`{"batch":[{"type":"track","event":"x\u0000\ud800","properties":{"price":-1,"products":"no"}}]}`,
		`{"batch":[{"type":"alias","previousId":"a","userId":"u"},{"type":"group","groupId":"g","userId":"u"}]}`,
		`{"batch":[{"type":"track","timestamp":"1999-01-01T00:00:00Z","sentAt":"bad"}]}`,
		"{\"batch\":[{\"type\":\"page\",\"properties\":{\"title\":\"\xff\xfe\"}}]}",
		`{"batch":[[]]}`, `[]`, `null`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeBatch(body)
		if err != nil {
			return
		}
		for _, raw := range b.Batch {
			obj, err := decodeObject(raw)
			if err != nil {
				continue
			}
			m, err := readMessage(obj, "")
			if err != nil {
				continue
			}
			ev, _ := mapMessage(m, testReceipt)
			for _, s := range []string{ev.Name, ev.VisitorID, ev.UserID, ev.ProductID, ev.URL, ev.Title, ev.Category, ev.OrderID} {
				if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
					t.Fatalf("unclean text %q", s)
				}
			}
			if len(ev.Name) > maxName || len(ev.URL) > maxURL || len(ev.Items) > maxItems {
				t.Fatalf("caps broken: %+v", ev)
			}
			for _, js := range []string{ev.Properties, ev.Traits} {
				if js != "" && !json.Valid([]byte(js)) {
					t.Fatalf("stored JSON invalid: %q", js)
				}
			}
		}
	})
}
