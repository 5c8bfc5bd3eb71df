package ingest

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

func TestCleanText(t *testing.T) {
	cases := []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "  Canon EOS 250D ", 100, "Canon EOS 250D"},
		{"line breaks become spaces", "a\tb\nc\r\nd", 100, "a b c  d"},
		{"controls removed", "a\x00b\x1bc\x7fd\u0085e", 100, "abcde"},
		{"invalid utf-8 replaced", "caf\xe9!", 100, "caf\uFFFD!"},
		{"cut at cap", "abcdef", 4, "abcd"},
		{"cut never splits a character", "aé€", 4, "aé"},
		{"empty", "\x00\x01", 10, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cleanText(c.in, c.max)
			if got != c.want {
				t.Fatalf("cleanText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
			if !utf8.ValidString(got) || len(got) > c.max {
				t.Fatalf("cleanText(%q) = %q breaks the rule", c.in, got)
			}
		})
	}
	if got := cleanText(strings.Repeat("x", 10<<20), maxURL); len(got) != maxURL {
		t.Fatalf("a 10 MB url is kept as %d bytes, want %d", len(got), maxURL)
	}
}

func TestCleanCategory(t *testing.T) {
	for in, want := range map[string]string{
		"Cameras > Mirrorless":       "Cameras > Mirrorless",
		"Cameras>Mirrorless":         "Cameras > Mirrorless",
		" Cameras >  > Mirrorless >": "Cameras > Mirrorless",
		"":                           "",
	} {
		if got := cleanCategory(in); got != want {
			t.Errorf("cleanCategory(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNumbersAndCurrency(t *testing.T) {
	amounts := []struct {
		in   any
		want float64
		ok   bool
	}{
		{12.5, 12.5, true},
		{"499.00", 499, true},
		{0.0, 0, true},
		{-1.0, 0, false},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{"NaN", 0, false},
		{2e9, 0, false},
		{"12 USD", 0, false},
		{true, 0, false},
	}
	for _, c := range amounts {
		got, err := parseAmount("properties.price", c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseAmount(%v) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "properties.price: ") {
			t.Errorf("error %q does not name the field", err)
		}
	}
	quantities := []struct {
		in   any
		want uint32
		ok   bool
	}{{2.0, 2, true}, {"3", 3, true}, {2.5, 0, false}, {-1.0, 0, false}, {1e7, 0, false}}
	for _, c := range quantities {
		got, err := parseQuantity("quantity", c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseQuantity(%v) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	currencies := map[any]string{"eur": "EUR", " USD ": "USD", "EURO": "", "E1R": "", 978.0: ""}
	for in, want := range currencies {
		got, err := parseCurrency("currency", in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("parseCurrency(%v) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestEventID(t *testing.T) {
	u := "7d444840-9dc0-11d1-b245-5ffdce74fad2"
	if id, err := eventID("demo", u); err != nil || id.String() != u {
		t.Fatalf("a UUID messageId must be kept: %v %v", id, err)
	}
	a, _ := eventID("demo", "node-next-1700000000-abc")
	b, _ := eventID("demo", "node-next-1700000000-abc")
	other, _ := eventID("shop2", "node-next-1700000000-abc")
	if a != b || a.Version() != 5 {
		t.Fatalf("non-UUID ids must map to one v5 UUID, got %v and %v", a, b)
	}
	if a == other {
		t.Fatal("the same client id on two sites must give two event ids")
	}
	r1, _ := eventID("demo", "")
	r2, _ := eventID("demo", "")
	if r1 == r2 || r1 == uuid.Nil {
		t.Fatal("events without an id need distinct random ids")
	}
	if _, err := eventID("demo", strings.Repeat("x", 101)); err == nil {
		t.Fatal("a 101-character messageId must be refused")
	}
}

func TestEventTimeCorrectsSkew(t *testing.T) {
	received := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	past, future := 720*time.Hour, 10*time.Minute
	clientClock := 3 * time.Hour // the client's clock runs 3 hours fast
	cases := []struct {
		name    string
		ct      clientTimes
		want    time.Time
		wantErr bool
	}{
		{"no client time", clientTimes{}, received, false},
		{"skew corrected", clientTimes{
			Original: received.Add(clientClock - 5*time.Second),
			Sent:     received.Add(clientClock),
		}, received.Add(-5 * time.Second), false},
		{"no sentAt: taken as is", clientTimes{Original: received.Add(-time.Hour)}, received.Add(-time.Hour), false},
		{"years ago", clientTimes{Original: received.AddDate(-3, 0, 0)}, received, true},
		{"far future", clientTimes{Original: received.Add(time.Hour)}, received, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := eventTime(c.ct, received, past, future)
			if (err != nil) != c.wantErr || !got.Equal(c.want) {
				t.Fatalf("eventTime = %v, %v; want %v (error %v)", got, err, c.want, c.wantErr)
			}
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	for _, ok := range []string{"2024-05-01T12:00:00.000Z", "2024-05-01T12:00:00+02:00", "2024-05-01T12:00:00"} {
		if _, err := parseTimestamp("timestamp", ok); err != nil {
			t.Errorf("parseTimestamp(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"yesterday", "1714564800", "2024-13-01T00:00:00Z"} {
		if _, err := parseTimestamp("timestamp", bad); err == nil || !strings.Contains(err.Error(), "bad timestamp") {
			t.Errorf("parseTimestamp(%q) = %v, want a bad timestamp error", bad, err)
		}
	}
}
