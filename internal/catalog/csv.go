package catalog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// csvDecoder reads the contract's CSV: a header row naming the columns
// (any order), then one product a row. Tab- and semicolon-separated files
// are recognised from the header line.
type csvDecoder struct {
	r        *csv.Reader
	limit    *limitedReader
	columns  []field // column index → field; -1 for ignored columns
	item     int
	lastLine int        // line of the last field read, for errors that have no line of their own
	pending  []RowError // warnings about the header, attached to the first row
}

func newCSVDecoder(br *bufio.Reader) (*csvDecoder, error) {
	if head, _ := br.Peek(len(bom)); bytes.Equal(head, bom) {
		br.Discard(len(bom))
	}
	if endsLinesWithCR(br) {
		br = bufio.NewReaderSize(crToLF{br}, br.Size())
	}
	comma := sniffDelimiter(br)
	limit := &limitedReader{r: br, tooLong: errCSVRecordTooLong, limit: maxCSVRecord + csvReadAhead}
	r := csv.NewReader(limit)
	r.Comma = comma
	r.FieldsPerRecord = -1 // counted here, for a message naming the line
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("the CSV file is empty (want a header row naming the columns)")
		}
		return nil, fmt.Errorf("cannot read the CSV header: %w", err)
	}
	d := &csvDecoder{r: r, limit: limit, columns: make([]field, len(header))}
	seen := map[field]bool{}
	var unknown []string
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		f, ok := fieldByName[name]
		switch {
		case !ok:
			d.columns[i] = -1
			unknown = append(unknown, fmt.Sprintf("%q", name))
		case seen[f]:
			return nil, fmt.Errorf("CSV header: column %q appears twice", name)
		default:
			d.columns[i] = f
			seen[f] = true
		}
	}
	if !seen[fID] {
		// The row as read shows a delimiter other than , ; or tab, or a
		// line above the header (Excel's "sep=;").
		first := []byte(strings.Join(header, string(comma)))
		return nil, fmt.Errorf("CSV header has no id column: the first row reads %q (want a header row of comma, tab or semicolon separated columns: %s)",
			abbreviate(first), strings.Join(Fields, ","))
	}
	if len(unknown) > 0 {
		d.pending = append(d.pending, RowError{Line: 1, Message: fmt.Sprintf(
			"unknown column(s) %s ignored (known: %s)", strings.Join(unknown, ", "), strings.Join(Fields, ","))})
	}
	return d, nil
}

// endsLinesWithCR reports whether the header line ends with a carriage
// return alone, as Excel for Mac's "CSV (Macintosh)" writes: encoding/csv
// ends lines only at a line feed, so it would read the whole file as one
// header row.
func endsLinesWithCR(br *bufio.Reader) bool {
	head, err := br.Peek(4096)
	i := bytes.IndexAny(head, "\r\n")
	if i < 0 || head[i] != '\r' {
		return false
	}
	if i+1 == len(head) {
		return err != nil // the file ends there; else the next byte is unknown
	}
	return head[i+1] != '\n'
}

// crToLF reads a file whose lines end with a carriage return as one whose
// lines end with a line feed (quoted line breaks included: encoding/csv
// turns \r\n in a quoted field into \n too).
type crToLF struct{ r io.Reader }

func (c crToLF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}

// sniffDelimiter picks tab or semicolon when the header line has those
// and no comma.
func sniffDelimiter(br *bufio.Reader) rune {
	head, _ := br.Peek(4096)
	line, _, _ := bytes.Cut(head, []byte("\n"))
	if bytes.IndexByte(line, ',') >= 0 {
		return ','
	}
	if bytes.IndexByte(line, '\t') >= 0 {
		return '\t'
	}
	if bytes.IndexByte(line, ';') >= 0 {
		return ';'
	}
	return ','
}

func (d *csvDecoder) Next() (Record, error) {
	// At most maxCSVRecord bytes (plus encoding/csv's read-ahead) past
	// the start of the record.
	d.limit.allowUpTo(d.r.InputOffset() + maxCSVRecord + csvReadAhead)
	row, err := d.r.Read()
	if err == io.EOF {
		return Record{}, io.EOF
	}
	if errors.Is(err, errCSVRecordTooLong) {
		return Record{}, fmt.Errorf("malformed CSV: a record after line %d is longer than %d bytes (an unclosed quote?); nothing was imported", d.lastLine, maxCSVRecord)
	}
	d.item++
	rec := Record{Item: d.item}
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.Err == csv.ErrQuote && pe.Line > pe.StartLine {
		return Record{}, d.swallowed(pe)
	}
	if errors.As(err, &pe) {
		d.lastLine = pe.Line
		rec.Line = pe.StartLine
		rec.Err = &RowError{Line: pe.StartLine, Item: d.item, Message: "malformed CSV: " + pe.Err.Error()}
		return d.attach(rec), nil
	}
	if err != nil {
		return Record{}, err
	}
	rec.Line, _ = d.r.FieldPos(0)
	d.lastLine, _ = d.r.FieldPos(len(row) - 1)
	if len(row) != len(d.columns) {
		rec.Err = &RowError{Line: rec.Line, Item: d.item, Message: fmt.Sprintf(
			"row has %d fields, the header has %d", len(row), len(d.columns))}
		if len(row) > 0 && d.columns[0] == fID {
			rec.Err.ID = strings.TrimSpace(row[0])
		}
		return d.attach(rec), nil
	}
	for i, text := range row {
		if f := d.columns[i]; f >= 0 {
			rec.set(f, text)
		}
	}
	return d.attach(rec), nil
}

// swallowed explains a quoted field that ran over line ends into an error
// about its quotes: encoding/csv reads a quoted field to the next quote or
// the end of the file, so one missing closing quote turns every row up to
// there into a single bad field. Skipping that as one bad row would drop
// the rows silently and replace the catalog with what is left; the whole
// import fails instead, naming the span.
func (d *csvDecoder) swallowed(pe *csv.ParseError) error {
	end := fmt.Sprintf("line %d", pe.Line)
	if _, err := d.r.Read(); err == io.EOF {
		end = "the end of the file"
	}
	return fmt.Errorf("malformed CSV: the quoted field that starts on line %d runs to %s, taking every row in between (a missing or extra \" on line %d?); nothing was imported",
		pe.StartLine, end, pe.StartLine)
}

// maxCSVRecord bounds one CSV record, as maxJSONLine bounds a JSON line:
// a quoted field that is never closed would otherwise be buffered to the
// end of the file.
const maxCSVRecord = maxJSONLine

// csvReadAhead is how far encoding/csv's own buffer reads past the record
// it parses.
const csvReadAhead = 4096

var errCSVRecordTooLong = errors.New("CSV record too long")

// attach hands header warnings to the importer with the first row.
func (d *csvDecoder) attach(rec Record) Record {
	if d.pending != nil {
		rec.Warnings, d.pending = d.pending, nil
	}
	return rec
}
