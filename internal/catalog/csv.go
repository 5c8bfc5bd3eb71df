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
	r       *csv.Reader
	columns []field // column index → field; -1 for ignored columns
	item    int
	pending []RowError // warnings about the header, attached to the first row
}

func newCSVDecoder(br *bufio.Reader) (*csvDecoder, error) {
	if head, _ := br.Peek(len(bom)); bytes.Equal(head, bom) {
		br.Discard(len(bom))
	}
	r := csv.NewReader(br)
	r.Comma = sniffDelimiter(br)
	r.FieldsPerRecord = -1 // counted here, for a message naming the line
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("the CSV file is empty (want a header row naming the columns)")
		}
		return nil, fmt.Errorf("cannot read the CSV header: %w", err)
	}
	d := &csvDecoder{r: r, columns: make([]field, len(header))}
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
		return nil, fmt.Errorf("CSV header has no id column (columns: %s)", strings.Join(Fields, ","))
	}
	if len(unknown) > 0 {
		d.pending = append(d.pending, RowError{Line: 1, Message: fmt.Sprintf(
			"unknown column(s) %s ignored (known: %s)", strings.Join(unknown, ", "), strings.Join(Fields, ","))})
	}
	return d, nil
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
	row, err := d.r.Read()
	if err == io.EOF {
		return Record{}, io.EOF
	}
	d.item++
	rec := Record{Item: d.item}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		rec.Line = pe.StartLine
		rec.Err = &RowError{Line: pe.StartLine, Item: d.item, Message: "malformed CSV: " + pe.Err.Error()}
		return d.attach(rec), nil
	}
	if err != nil {
		return Record{}, err
	}
	rec.Line, _ = d.r.FieldPos(0)
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

// attach hands header warnings to the importer with the first row.
func (d *csvDecoder) attach(rec Record) Record {
	if d.pending != nil {
		rec.Warnings, d.pending = d.pending, nil
	}
	return rec
}
