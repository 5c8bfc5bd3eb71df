package feeds

import (
	"bufio"
	"fmt"
	"io"
	"time"
)

// Format is one feed format; its name is both the URL file and the CLI flag.
type Format string

const (
	Google Format = "google" // google.xml: Google Merchant RSS 2.0
	Meta   Format = "meta"   // meta.csv: Meta catalog CSV
	JSON   Format = "json"   // feed.json: remarket's own JSON
)

// Formats maps the file names of the feed URLs to formats.
var Formats = map[string]Format{"google.xml": Google, "meta.csv": Meta, "feed.json": JSON}

// ContentType is the MIME type a format is served with.
func (f Format) ContentType() string {
	switch f {
	case Google:
		return "application/xml; charset=utf-8"
	case Meta:
		return "text/csv; charset=utf-8"
	}
	return "application/json; charset=utf-8"
}

// ParseFormat accepts google, meta or json.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Google, Meta, JSON:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want google, meta or json", s)
}

// Header describes the feed as a whole.
type Header struct {
	Site, Audience, RunID string
	RunFinished           time.Time
	Generated             time.Time
	Link                  string // the server's public URL
}

// Writer writes one feed: Begin, Item for each valid item, End.
type Writer interface {
	Begin(h Header) error
	Item(it *Item) error
	End() error
}

// NewWriter returns the writer of format f onto w. Writers buffer; End
// flushes.
func NewWriter(f Format, w io.Writer) Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch f {
	case Google:
		return &GoogleWriter{w: bw}
	case Meta:
		return newMetaWriter(bw)
	}
	return &JSONWriter{w: bw}
}
