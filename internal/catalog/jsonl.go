package catalog

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxJSONLine bounds one JSON line; a longer one is reported and skipped
// instead of being buffered whole.
const maxJSONLine = 4 << 20

// jsonlDecoder reads one product object a line. Blank lines are skipped.
type jsonlDecoder struct {
	br     *bufio.Reader
	strict bool // unknown keys skip the row instead of warning
	line   int
	item   int
	warned map[string]bool
}

func newJSONLDecoder(br *bufio.Reader, strict bool) *jsonlDecoder {
	return &jsonlDecoder{br: br, strict: strict, warned: map[string]bool{}}
}

func (d *jsonlDecoder) Next() (Record, error) {
	for {
		line, tooLong, err := d.readLine()
		if err != nil && (err != io.EOF || (len(line) == 0 && !tooLong)) {
			return Record{}, err
		}
		d.line++
		line = bytes.TrimSpace(bytes.TrimPrefix(line, bom))
		if len(line) == 0 && !tooLong {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			continue
		}
		d.item++
		if tooLong {
			return Record{Line: d.line, Item: d.item, Err: &RowError{Line: d.line, Item: d.item,
				Message: fmt.Sprintf("line is longer than %d bytes", maxJSONLine)}}, nil
		}
		rec := decodeJSONRecord(line, d.strict, d.warned)
		rec.Line, rec.Item = d.line, d.item
		rec.stamp()
		return rec, nil
	}
}

// readLine returns the next line without its newline; a line over
// maxJSONLine is discarded up to its end and reported as tooLong.
func (d *jsonlDecoder) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := d.br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxJSONLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSuffix(buf, []byte("\n")), tooLong, err
	}
}

// jsonRecord mirrors the JSON keys; jsonText accepts strings and numbers
// ("price": 15 and "price": "15.00" both work), jsonList accepts arrays
// and "a|b" strings.
type jsonRecord struct {
	ID                    jsonText `json:"id"`
	Title                 jsonText `json:"title"`
	Description           jsonText `json:"description"`
	Link                  jsonText `json:"link"`
	ImageLink             jsonText `json:"image_link"`
	Price                 jsonText `json:"price"`
	Currency              jsonText `json:"currency"`
	Availability          jsonText `json:"availability"`
	Condition             jsonText `json:"condition"`
	Brand                 jsonText `json:"brand"`
	GTIN                  jsonText `json:"gtin"`
	MPN                   jsonText `json:"mpn"`
	Category              jsonText `json:"category"`
	GoogleProductCategory jsonText `json:"google_product_category"`
	ItemGroupID           jsonText `json:"item_group_id"`
	StockQuantity         jsonText `json:"stock_quantity"`
	LaunchDate            jsonText `json:"launch_date"`
	Tags                  jsonList `json:"tags"`
	Margin                jsonText `json:"margin"`
	Complements           jsonList `json:"complements"`
	Upgrades              jsonList `json:"upgrades"`
	AvailabilityDate      jsonText `json:"availability_date"`
}

// decodeJSONRecord reads one product object. Unknown keys are a warning
// (reported once per key in warned) or, when strict, an error.
func decodeJSONRecord(data []byte, strict bool, warned map[string]bool) Record {
	var rec Record
	// encoding/json would turn bytes that are not UTF-8 into U+FFFD
	// silently, so the raw line is checked first.
	if !utf8.Valid(data) {
		key := keyNotUTF8(data)
		rec.Err = &RowError{ID: peekID(data), Field: key, Message: notUTF8(cmp.Or(key, "the line"))}
		return rec
	}
	if obj := bytes.TrimSpace(data); len(obj) == 0 || obj[0] != '{' {
		rec.Err = &RowError{Message: fmt.Sprintf(`want a product object ({"id": ...}), got %s`, abbreviate(obj))}
		return rec
	}
	if key, f, ok := repeatedKey(data); ok {
		rec.Err = &RowError{Field: f.String(), Message: fmt.Sprintf(
			"%q appears twice in the object (as %s); send each field once", key, f)}
		if f != fID {
			rec.Err.ID = peekID(data)
		}
		return rec
	}
	var jr jsonRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&jr)
	if key, ok := unknownKey(err); ok {
		if strict {
			rec.Err = &RowError{ID: peekID(data), Field: key, Message: fmt.Sprintf("unknown field %q (known: %s)", key, strings.Join(Fields, ", "))}
			return rec
		}
		if !warned[key] {
			warned[key] = true
			rec.Warnings = append(rec.Warnings, RowError{Field: key, Message: fmt.Sprintf("unknown field %q ignored", key)})
		}
		jr = jsonRecord{}
		err = json.Unmarshal(data, &jr)
	}
	if err == nil && dec.More() {
		err = fmt.Errorf("more than one JSON value on the line")
	}
	if err != nil {
		key, msg := blame(data, err)
		rec.Err = &RowError{ID: peekID(data), Field: key, Message: msg}
		return rec
	}
	scalars := [numFields]jsonText{
		fID: jr.ID, fTitle: jr.Title, fDescription: jr.Description, fLink: jr.Link,
		fImageLink: jr.ImageLink, fPrice: jr.Price, fCurrency: jr.Currency,
		fAvailability: jr.Availability, fCondition: jr.Condition, fBrand: jr.Brand,
		fGTIN: jr.GTIN, fMPN: jr.MPN, fCategory: jr.Category,
		fGoogleProductCategory: jr.GoogleProductCategory, fItemGroupID: jr.ItemGroupID,
		fStockQuantity: jr.StockQuantity, fLaunchDate: jr.LaunchDate, fMargin: jr.Margin,
		fAvailabilityDate: jr.AvailabilityDate,
	}
	for f, t := range scalars {
		rec.Values[f] = string(t)
	}
	rec.Tags, rec.Complements, rec.Upgrades = jr.Tags, jr.Complements, jr.Upgrades
	return rec
}

// repeatedKey finds a key of the object that names a field already named
// by an earlier key. encoding/json matches keys to fields without regard
// to case and keeps the last value, so {"price":1,"Price":1000} would be
// stored at 1000 without a word. Text that is not a JSON object is left
// to the decoder to explain.
func repeatedKey(data []byte) (key string, f field, repeated bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", 0, false
	}
	var seen [numFields]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", 0, false
		}
		key, _ := tok.(string)
		for i, name := range Fields {
			if strings.EqualFold(key, name) {
				if seen[i] {
					return key, field(i), true
				}
				seen[i] = true
				break
			}
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return "", 0, false
		}
	}
	return "", 0, false
}

// keyNotUTF8 names the first key whose raw value is not UTF-8, or "".
func keyNotUTF8(data []byte) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return ""
	}
	for _, name := range Fields {
		if raw, ok := obj[name]; ok && !utf8.Valid(raw) {
			return name
		}
	}
	return ""
}

// unknownKey recognises encoding/json's unknown-field error.
func unknownKey(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	key, uerr := strconv.Unquote(rest)
	return key, uerr == nil
}

// blame finds which key of a JSON object failed to decode, so the report
// can name the field; err is the error of the whole object.
func blame(data []byte, err error) (key, msg string) {
	msg = "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return "", msg
	}
	for _, name := range Fields {
		raw, ok := obj[name]
		if !ok {
			continue
		}
		var ferr error
		switch fieldByName[name] {
		case fTags, fComplements, fUpgrades:
			var l jsonList
			ferr = l.UnmarshalJSON(raw)
		default:
			var t jsonText
			ferr = t.UnmarshalJSON(raw)
		}
		if ferr != nil {
			return name, fmt.Sprintf("%s: %v", name, ferr)
		}
	}
	return "", msg
}

// peekID recovers the id of a row that failed to decode, for the report.
func peekID(data []byte) string {
	var v struct {
		ID jsonText `json:"id"`
	}
	json.Unmarshal(data, &v)
	return strings.TrimSpace(string(v.ID))
}

type jsonText string

func (t *jsonText) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = jsonText(s)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*t = jsonText(b) // the number's own text: no float rounding of ids or prices
	case string(b) == "true" || string(b) == "false":
		*t = jsonText(b)
	default:
		return fmt.Errorf("want a string or a number, got %s", abbreviate(b))
	}
	return nil
}

type jsonList []string

func (l *jsonList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var items []jsonText
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = string(it)
		}
		*l = out
		return nil
	}
	var t jsonText
	if err := t.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("want a list of strings, got %s", abbreviate(b))
	}
	*l = splitList(string(t))
	return nil
}

func abbreviate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
