package ingest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

func sampleEvent() Event {
	return Event{
		Site: "demo", ID: uuid.New(), Time: time.Unix(1795687200, 123456789).UTC(), ReceivedAt: time.Unix(1795687201, 0).UTC(),
		Type: Purchase, Name: "Order Completed", VisitorID: "v1", UserID: "u1", ProductID: "P1", SKU: "S1",
		Category: "Cameras > DSLR", Price: 549.99, Currency: "EUR", Quantity: 2, OrderID: "O-1", Revenue: 1099.98,
		Items: []Item{{ProductID: "P1", SKU: "S1", Category: "Cameras > DSLR", Price: 549.99, Quantity: 2}, {ProductID: "P2"}},
		URL:   "https://shop.example/p?x=ü", Referrer: "https://google.com/", Title: "Thanks", UserAgent: "Mozilla/5.0",
		IP: "203.0.113.0", IsBot: true, OptedOut: true, Properties: `{"coupon":"X"}`, Traits: `{"email":"a@b.c"}`,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, e := range []Event{sampleEvent(), {Site: "s", ID: uuid.New(), Time: time.Unix(0, 0).UTC(), ReceivedAt: time.Unix(0, 0).UTC()}} {
		var got Event
		if err := decodeEvent(encodeEvent(nil, &e), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", got, e)
		}
	}
}

func TestCodecReadsJSONRecords(t *testing.T) {
	e := sampleEvent()
	raw, _ := json.Marshal(&e)
	var got Event
	if err := decodeEvent(raw, &got); err != nil || got.OrderID != "O-1" || len(got.Items) != 2 {
		t.Fatalf("JSON record: %v %+v", err, got)
	}
}

func TestCodecRejectsEveryTruncation(t *testing.T) {
	e := sampleEvent()
	full := encodeEvent(nil, &e)
	for n := 0; n < len(full); n++ {
		var got Event
		if err := decodeEvent(full[:n], &got); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded without error", n, len(full))
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	e := sampleEvent()
	f.Add(encodeEvent(nil, &e))
	f.Add([]byte{codecV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		var got Event
		if decodeEvent(p, &got) != nil || (len(p) > 0 && p[0] == '{') {
			return
		}
		// Whatever decodes must encode back to the same event.
		var again Event
		if err := decodeEvent(encodeEvent(nil, &got), &again); err != nil || !reflect.DeepEqual(got, again) {
			t.Fatalf("re-encoding a decoded record changed it: %v", err)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	e := sampleEvent()
	buf := make([]byte, 0, 1024)
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			buf = encodeEvent(buf[:0], &e)
			var got Event
			decodeEvent(buf, &got)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			raw, _ := json.Marshal(&e)
			var got Event
			json.Unmarshal(raw, &got)
		}
	})
}
