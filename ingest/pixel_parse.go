package ingest

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pixelHit is a parsed GET /p.gif query: the event as a Segment message
// (so the pixel and the JSON API share one mapping) plus what only the
// pixel has. Problems are fields dropped from the hit; the pixel stores
// the rest and counts them.
type pixelHit struct {
	Key      string
	Msg      message
	Consent  string // c: "0" denies consent
	Problems []*fieldError
}

// pixelParams are the documented query parameters (PRODUCT.md §3);
// anything else is kept as a string property.
var pixelParams = map[string]bool{
	"k": true, "e": true, "url": true, "ref": true, "title": true, "pid": true,
	"sku": true, "cat": true, "price": true, "cur": true, "qty": true, "oid": true,
	"rev": true, "vid": true, "uid": true, "eid": true, "ts": true, "st": true,
	"data": true, "c": true,
}

// Limits on the extra (undocumented) parameters kept as properties.
const (
	maxExtraParams = 50
	maxExtraKey    = 64
	maxExtraValue  = 500
)

// parsePixelQuery reads a pixel query. data (base64 JSON, Segment pixel
// style: writeKey, type, event, userId, anonymousId, properties, context,
// messageId, timestamp) forms the base of the event; the short parameters
// override it. Without either, the hit is a page_view. data longer than
// maxData bytes (decoded) is dropped, like an oversized JSON event.
func parsePixelQuery(q url.Values, maxData int) pixelHit {
	var h pixelHit
	h.Msg.Type = "track"
	if data := q.Get("data"); len(data) > base64.StdEncoding.EncodedLen(maxData) {
		h.Problems = append(h.Problems, &fieldError{"data", "over ingest.max_event_bytes"})
	} else if data != "" {
		m, err := decodePixelData(data)
		if err != nil {
			h.Problems = append(h.Problems, &fieldError{"data", err.Error()})
		} else {
			h.Msg = m
		}
	}
	h.Key = or(q.Get("k"), h.Msg.WriteKey)
	h.Consent = q.Get("c")
	m := &h.Msg
	if e := q.Get("e"); e != "" {
		m.Type, m.Event = "track", e
	}
	if m.Type == "track" && m.Event == "" {
		m.Event = PageView
	}
	set := func(into *string, key string) {
		if v := q.Get(key); v != "" {
			*into = v
		}
	}
	set(&m.AnonymousID, "vid")
	set(&m.UserID, "uid")
	set(&m.MessageID, "eid")

	page := subMap(&m.Context, "page")
	for param, key := range map[string]string{"url": "url", "ref": "referrer", "title": "title"} {
		if v := q.Get(param); v != "" {
			page[key] = v
		}
	}
	if m.Properties == nil {
		m.Properties = map[string]any{}
	}
	props := m.Properties
	for param, key := range map[string]string{
		"sku": "sku", "cat": "category", "price": "price", "cur": "currency",
		"qty": "quantity", "oid": "order_id", "rev": "revenue",
	} {
		if v := q.Get(param); v != "" {
			props[key] = v
		}
	}
	if pid := q.Get("pid"); pid != "" {
		setPixelProducts(props, pid)
	}
	h.Problems = append(h.Problems, pixelTime(&m.Times.Original, q.Get("ts"), "ts")...)
	h.Problems = append(h.Problems, pixelTime(&m.Times.Sent, q.Get("st"), "st")...)
	addExtraParams(props, q)
	return h
}

// setPixelProducts reads pid: one product id, or a comma list (a product
// list or an order's lines) that becomes products[].
func setPixelProducts(props map[string]any, pid string) {
	ids := strings.Split(pid, ",")
	if len(ids) == 1 {
		props["product_id"] = pid
		return
	}
	var products []any
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" {
			products = append(products, map[string]any{"product_id": id})
		}
	}
	props["products"] = products
}

// pixelTime reads a client time in milliseconds since the epoch.
func pixelTime(into *time.Time, v, field string) []*fieldError {
	if v == "" {
		return nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 || ms > 1e14 {
		return []*fieldError{{field, "want milliseconds since 1970"}}
	}
	*into = time.UnixMilli(ms).UTC()
	return nil
}

// addExtraParams keeps undocumented parameters as string properties, so a
// site can send its own dimensions. Keys starting with "_" (cache
// busters) are skipped; keys, values and their number are capped.
func addExtraParams(props map[string]any, q url.Values) {
	n := 0
	for key, vals := range q {
		if pixelParams[key] || strings.HasPrefix(key, "_") || len(vals) == 0 {
			continue
		}
		key = cleanText(key, maxExtraKey)
		if key == "" || n >= maxExtraParams {
			continue
		}
		if _, taken := props[key]; taken {
			continue
		}
		props[key] = cleanText(vals[0], maxExtraValue)
		n++
	}
}

// decodePixelData reads the data parameter: base64 (standard or URL
// alphabet, padded or not) of a JSON object.
func decodePixelData(data string) (message, error) {
	raw, err := decodeBase64(data)
	if err != nil {
		return message{}, &fieldError{"data", "not base64"}
	}
	obj, err := decodeObject(raw)
	if err != nil {
		return message{}, &fieldError{"data", "not a JSON object"}
	}
	if _, ok := obj["type"]; !ok {
		obj["type"] = "page"
		if _, ok := obj["event"]; ok {
			obj["type"] = "track"
		}
	}
	return readMessage(obj, "")
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	// A '+' may arrive as ' ' when the client did not escape it.
	return base64.RawStdEncoding.DecodeString(strings.ReplaceAll(s, " ", "+"))
}

// subMap returns (*m)[key] as an object, creating both when missing.
func subMap(m *map[string]any, key string) map[string]any {
	if *m == nil {
		*m = map[string]any{}
	}
	sub, ok := (*m)[key].(map[string]any)
	if !ok {
		sub = map[string]any{}
		(*m)[key] = sub
	}
	return sub
}
