package catalog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Format is a catalog file format.
type Format string

const (
	CSV   Format = "csv"   // header row, columns named as Fields
	JSONL Format = "jsonl" // one JSON object a line, keys named as Fields
	XML   Format = "xml"   // Google Merchant RSS 2.0 (<item>) or Atom (<entry>) feed
)

// ParseFormat reads a --format value; "" and "auto" mean detect.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "auto":
		return "", nil
	case "csv", "tsv":
		return CSV, nil
	case "jsonl", "json", "ndjson":
		return JSONL, nil
	case "xml", "rss", "atom":
		return XML, nil
	}
	return "", fmt.Errorf("unknown catalog format %q (want csv, jsonl or xml)", s)
}

// Decoder yields a file's rows one at a time, so a file of any size is
// read in constant memory. Next returns io.EOF after the last row; any
// other error is fatal for the whole file (rows that are merely bad come
// back as a Record with Err set).
type Decoder interface {
	Next() (Record, error)
}

// NewDecoder reads r in format f, or detects the format from the first
// non-blank byte when f is "": '<' is XML, '{' is JSON lines, anything else CSV.
func NewDecoder(r io.Reader, f Format) (Decoder, Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if err := refuseUTF16(br); err != nil {
		return nil, "", err
	}
	if f == "" {
		var err error
		if f, err = detect(br); err != nil {
			return nil, "", err
		}
	}
	var d Decoder
	var err error
	switch f {
	case CSV:
		d, err = newCSVDecoder(br)
	case JSONL:
		d = newJSONLDecoder(br, false)
	case XML:
		d = newXMLDecoder(br)
	default:
		err = fmt.Errorf("unknown catalog format %q", f)
	}
	return d, f, err
}

var bom = []byte("\xef\xbb\xbf")

// utf16BOMs are the byte-order marks of UTF-16, which Excel writes for
// "Unicode Text": read as UTF-8, such a file has no column anyone named.
var utf16BOMs = []struct {
	mark []byte
	name string
}{{[]byte{0xff, 0xfe}, "UTF-16LE"}, {[]byte{0xfe, 0xff}, "UTF-16BE"}}

func refuseUTF16(br *bufio.Reader) error {
	head, _ := br.Peek(2)
	for _, b := range utf16BOMs {
		if bytes.Equal(head, b.mark) {
			return fmt.Errorf("the file is %s text (it starts with the byte-order mark % X); save it as UTF-8 (in Excel: \"CSV UTF-8\") and import it again", b.name, b.mark)
		}
	}
	return nil
}

func detect(br *bufio.Reader) (Format, error) {
	for n := 512; ; n *= 2 {
		head, err := br.Peek(n)
		rest := bytes.TrimLeft(bytes.TrimPrefix(head, bom), " \t\r\n")
		if len(rest) > 0 {
			switch rest[0] {
			case '<':
				return XML, nil
			case '{':
				return JSONL, nil
			case '[':
				return "", fmt.Errorf("the file is one JSON array; write JSON lines instead (one product object a line)")
			}
			return CSV, nil
		}
		if err != nil {
			if err == io.EOF || err == bufio.ErrBufferFull {
				return "", fmt.Errorf("the catalog file is empty")
			}
			return "", err
		}
	}
}

// limitedReader hands a decoder bytes up to an offset it moves on
// before each record or item (allowUpTo), then fails with tooLong: the
// decoders hold a record or element whole, so one never closed would
// otherwise be read to the end of the file.
type limitedReader struct {
	r       io.Reader
	tooLong error
	read    int64 // bytes handed to the decoder so far
	limit   int64 // offset read may not pass
}

func (l *limitedReader) allowUpTo(offset int64) { l.limit = offset }

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.read >= l.limit {
		return 0, l.tooLong
	}
	if rest := l.limit - l.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}
