package ingest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Spool records hold events in a compact binary form: encoding and
// decoding JSON was a tenth of the CPU of every pixel hit. The first byte
// is the format version; records written as JSON by earlier versions
// (first byte '{') still decode.
const codecV1 = 1

// encodeEvent appends e's record to buf.
func encodeEvent(buf []byte, e *Event) []byte {
	buf = append(buf, codecV1)
	buf = appendStr(buf, e.Site)
	buf = append(buf, e.ID[:]...)
	buf = binary.AppendVarint(buf, e.Time.UnixNano())
	buf = binary.AppendVarint(buf, e.ReceivedAt.UnixNano())
	for _, s := range []string{e.Type, e.Name, e.VisitorID, e.UserID, e.ProductID, e.SKU, e.Category, e.Currency, e.OrderID} {
		buf = appendStr(buf, s)
	}
	buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(e.Price))
	buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(e.Revenue))
	buf = binary.AppendUvarint(buf, uint64(e.Quantity))
	buf = binary.AppendUvarint(buf, uint64(len(e.Items)))
	for _, it := range e.Items {
		buf = appendStr(buf, it.ProductID)
		buf = appendStr(buf, it.SKU)
		buf = appendStr(buf, it.Category)
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(it.Price))
		buf = binary.AppendUvarint(buf, uint64(it.Quantity))
	}
	for _, s := range []string{e.URL, e.Referrer, e.Title, e.UserAgent, e.IP, e.Properties, e.Traits} {
		buf = appendStr(buf, s)
	}
	var flags byte
	if e.IsBot {
		flags |= 1
	}
	if e.OptedOut {
		flags |= 2
	}
	return append(buf, flags)
}

func appendStr(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

var errShortRecord = errors.New("truncated event record")

// decodeEvent reads a record written by encodeEvent (or an older JSON one).
func decodeEvent(p []byte, e *Event) error {
	if len(p) > 0 && p[0] == '{' {
		return json.Unmarshal(p, e)
	}
	if len(p) == 0 || p[0] != codecV1 {
		return fmt.Errorf("unknown event record version")
	}
	d := decoder{p: p[1:]}
	e.Site = d.str()
	copy(e.ID[:], d.bytes(16))
	e.Time = time.Unix(0, d.varint()).UTC()
	e.ReceivedAt = time.Unix(0, d.varint()).UTC()
	for _, s := range []*string{&e.Type, &e.Name, &e.VisitorID, &e.UserID, &e.ProductID, &e.SKU, &e.Category, &e.Currency, &e.OrderID} {
		*s = d.str()
	}
	e.Price, e.Revenue = d.float(), d.float()
	e.Quantity = uint32(d.uvarint())
	n := d.uvarint()
	if n > uint64(len(d.p)) { // each item takes at least one byte
		return errShortRecord
	}
	e.Items = nil
	if n > 0 {
		e.Items = make([]Item, n)
	}
	for i := range e.Items {
		it := &e.Items[i]
		it.ProductID, it.SKU, it.Category = d.str(), d.str(), d.str()
		it.Price = d.float()
		it.Quantity = uint32(d.uvarint())
	}
	for _, s := range []*string{&e.URL, &e.Referrer, &e.Title, &e.UserAgent, &e.IP, &e.Properties, &e.Traits} {
		*s = d.str()
	}
	flags := d.bytes(1)
	if d.err != nil {
		return d.err
	}
	e.IsBot, e.OptedOut = flags[0]&1 != 0, flags[0]&2 != 0
	return nil
}

// decoder reads fields until the first error, which it keeps.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || len(d.p) < n {
		d.err = errShortRecord
		return make([]byte, n)
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.p)) {
		d.err = errShortRecord
		return ""
	}
	return string(d.bytes(int(n)))
}

func (d *decoder) float() float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(d.bytes(8)))
}
