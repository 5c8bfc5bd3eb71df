package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/sanitize"
)

// eventTypes maps Segment e-commerce v2 event names (compared without
// case) and remarket's own canonical names onto canonical types. Any other
// track name is Custom, with the name kept in Event.Name.
var eventTypes = map[string]string{
	"product viewed":        ProductView,
	"product list viewed":   ProductListView,
	"product list filtered": ProductListView,
	"products searched":     Search,
	"product added":         AddToCart,
	"product removed":       RemoveFromCart,
	"checkout started":      Checkout,
	"order completed":       Purchase,

	PageView: PageView, ProductView: ProductView, ProductListView: ProductListView,
	Search: Search, AddToCart: AddToCart, RemoveFromCart: RemoveFromCart,
	Checkout: Checkout, Purchase: Purchase, Identify: Identify, Custom: Custom,
}

// canonicalType is the event type of a Segment call: page and screen are
// page views, identify is identify, track goes by its event name, group
// and alias are custom.
func canonicalType(callType, event string) string {
	switch callType {
	case "page", "screen":
		return PageView
	case "identify":
		return Identify
	case "track":
		if t, ok := eventTypes[strings.ToLower(strings.TrimSpace(event))]; ok {
			return t
		}
	}
	return Custom
}

// maxItems caps the product lines of one event's products[]: the JSON API
// refuses an event with more, the pixel keeps the first maxItems and
// counts the rest as a dropped field.
const maxItems = 200

// receipt is what the server knows about an event besides its content.
type receipt struct {
	Site      string
	Received  time.Time
	MaxPast   time.Duration
	MaxFuture time.Duration
}

// mapMessage turns a Segment call into an Event: the canonical type, the
// e-commerce properties into Event fields and Items, unknown properties
// into Event.Properties and traits into Event.Traits. It applies the
// cleaning rules of validate.go. Each broken field is reported; the
// event is returned without it, so the caller decides between refusing
// the event (JSON API) and storing the rest (pixel).
func mapMessage(m message, r receipt) (Event, []*fieldError) {
	var errs []*fieldError
	note := func(err error) {
		if fe, ok := err.(*fieldError); ok {
			errs = append(errs, fe)
		}
	}
	id := func(field, s string) string {
		v, err := cleanID(field, s)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	ev := Event{
		Site:       r.Site,
		ReceivedAt: r.Received,
		Type:       canonicalType(m.Type, m.Event),
		VisitorID:  id("anonymousId", m.AnonymousID),
		UserID:     id("userId", m.UserID),
	}
	switch m.Type {
	case "track":
		ev.Name = cleanText(m.Event, maxName)
	case "page", "screen":
		ev.Name = cleanText(m.Name, maxName)
	case "group", "alias":
		ev.Name = m.Type
	}
	if ev.VisitorID == "" && m.Type == "alias" {
		ev.VisitorID = id("previousId", m.PreviousID)
	}

	eid, err := eventID(r.Site, strings.TrimSpace(m.MessageID))
	note(err)
	if err != nil {
		eid, _ = eventID(r.Site, "")
	}
	ev.ID = eid
	ev.Time, err = eventTime(m.Times, r.Received, r.MaxPast, r.MaxFuture)
	note(err)

	props := copyMap(m.Properties)
	page, _ := m.Context["page"].(map[string]any)
	ev.URL = cleanText(firstText(page["url"], props["url"]), maxURL)
	ev.Referrer = cleanText(firstText(page["referrer"], props["referrer"]), maxURL)
	ev.Title = cleanText(firstText(page["title"], props["title"]), maxTitle)
	if ev.Type == PageView {
		// On page calls these properties describe the page itself.
		delete(props, "url")
		delete(props, "referrer")
		delete(props, "title")
		if ev.Title == "" {
			ev.Title = cleanText(m.Name, maxTitle)
		}
	}
	ua, _ := m.Context["userAgent"].(string)
	ev.UserAgent = cleanText(ua, maxUA)

	note(mapCommerce(&ev, props))
	errs = append(errs, mapItems(&ev, props)...)
	switch m.Type {
	case "group":
		if m.GroupID != "" {
			props["groupId"] = m.GroupID
		}
	case "alias":
		if m.PreviousID != "" {
			props["previousId"] = m.PreviousID
		}
	}
	ev.Properties = encodeObject(props)
	traits := m.Traits
	if traits == nil {
		traits, _ = m.Context["traits"].(map[string]any)
	}
	ev.Traits = encodeObject(traits)
	return ev, errs
}

// mapCommerce moves the event-level e-commerce properties into ev,
// deleting each from props once used (a broken one is deleted too: it
// is never stored raw).
func mapCommerce(ev *Event, props map[string]any) error {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	if v, ok := take(props, "currency"); ok {
		cur, err := parseCurrency("properties.currency", v)
		keep(err)
		ev.Currency = cur
	}
	if v, ok := take(props, "order_id"); ok {
		oid, err := cleanID("properties.order_id", text(v))
		if err != nil {
			keep(err)
		}
		ev.OrderID = oid
	}
	// Order value: revenue, else value, else total (Segment uses all three).
	for _, key := range []string{"revenue", "value", "total"} {
		v, ok := take(props, key)
		if !ok || ev.Revenue != 0 {
			continue
		}
		rev, err := parseAmount("properties."+key, v)
		keep(err)
		ev.Revenue = rev
	}
	return first
}

// mapItems builds ev.Items from the top-level product (product_id or
// sku) followed by products[], and sets the scalar product fields:
// a top-level value wins, else the first item's.
func mapItems(ev *Event, props map[string]any) []*fieldError {
	var errs []*fieldError
	top, topErrs := readItem(props, "properties.", false)
	errs = append(errs, topErrs...)
	if top.ProductID != "" || top.SKU != "" {
		ev.Items = append(ev.Items, top)
	}
	if v, ok := props["products"]; ok {
		list, isList := v.([]any)
		if !isList {
			errs = append(errs, &fieldError{"properties.products", "want an array"})
		}
		if len(list) > maxItems {
			errs = append(errs, &fieldError{"properties.products", fmt.Sprintf("%d lines, over the %d an event may have; send the order in parts", len(list), maxItems)})
		}
		for i, p := range list {
			if len(ev.Items) >= maxItems {
				break
			}
			obj, isObj := p.(map[string]any)
			if !isObj {
				errs = append(errs, &fieldError{fmt.Sprintf("properties.products[%d]", i), "want an object"})
				continue
			}
			it, itErrs := readItem(copyMap(obj), fmt.Sprintf("properties.products[%d].", i), true)
			errs = append(errs, itErrs...)
			if it != (Item{}) {
				ev.Items = append(ev.Items, it)
			}
		}
		delete(props, "products")
	}
	var main Item
	if len(ev.Items) > 0 {
		main = ev.Items[0]
	}
	ev.ProductID = or(top.ProductID, main.ProductID)
	ev.SKU = or(top.SKU, main.SKU)
	ev.Category = or(top.Category, main.Category)
	ev.Price = top.Price
	if ev.Price == 0 {
		ev.Price = main.Price
	}
	ev.Quantity = top.Quantity
	if ev.Quantity == 0 {
		ev.Quantity = main.Quantity
	}
	return errs
}

// readItem takes one product's fields out of obj. Inside products[] the
// Segment v1 name "id" is accepted for product_id.
func readItem(obj map[string]any, prefix string, allowID bool) (Item, []*fieldError) {
	var it Item
	var errs []*fieldError
	id := func(field string, v any) string {
		id, err := cleanID(prefix+field, text(v))
		if err != nil {
			errs = append(errs, err)
		}
		return id
	}
	if v, ok := take(obj, "product_id"); ok {
		it.ProductID = id("product_id", v)
	} else if v, ok := obj["id"]; ok && allowID {
		it.ProductID = id("id", v)
	}
	if v, ok := take(obj, "sku"); ok {
		it.SKU = id("sku", v)
	}
	if v, ok := take(obj, "category"); ok {
		it.Category = cleanCategory(text(v))
	}
	if v, ok := take(obj, "price"); ok {
		p, err := parseAmount(prefix+"price", v)
		if err != nil {
			errs = append(errs, err.(*fieldError))
		}
		it.Price = p
	}
	if v, ok := take(obj, "quantity"); ok {
		q, err := parseQuantity(prefix+"quantity", v)
		if err != nil {
			errs = append(errs, err.(*fieldError))
		}
		it.Quantity = q
	}
	return it, errs
}

// take removes key from m and returns its value; null counts as absent.
func take(m map[string]any, key string) (any, bool) {
	v, ok := m[key]
	if !ok {
		return nil, false
	}
	delete(m, key)
	return v, v != nil
}

func text(v any) string {
	s, _ := textValue(v)
	return s
}

func firstText(vs ...any) string {
	for _, v := range vs {
		if s := text(v); s != "" {
			return s
		}
	}
	return ""
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// encodeObject stores free-form properties or traits as a JSON object
// ("" when empty). Decoding already replaced invalid UTF-8, and the
// encoder escapes control characters, so the text is always valid JSON;
// bidirectional controls are taken out of every key and string first.
//
// Keys holding a plain value (string, number, true, false, null) come
// first, then those holding an object or an array, each group in key
// order. Segment runs read traits with ClickHouse's visitParam functions
// (18.16 has no JSONExtract), which take the first "key": anywhere in the
// text; with plain values first, a top-level "email" wins over one inside
// an "address" or "company" object that sorts before it.
func encodeObject(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	if hasBidi(m) {
		m = stripBidi(m).(map[string]any)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ca, cb := isComposite(m[a]), isComposite(m[b]); ca != cb {
			if ca {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if enc.Encode(k) != nil {
			return ""
		}
		trimNewline(&b)
		b.WriteByte(':')
		if enc.Encode(m[k]) != nil {
			return ""
		}
		trimNewline(&b)
	}
	b.WriteByte('}')
	return b.String()
}

// isComposite reports whether a decoded JSON value is an object or array.
func isComposite(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// trimNewline drops the newline json.Encoder writes after each value.
func trimNewline(b *bytes.Buffer) { b.Truncate(b.Len() - 1) }

// hasBidi reports whether any string or object key in v holds a
// bidirectional control (the common answer, no, allocates nothing).
func hasBidi(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexFunc(x, sanitize.IsBidiControl) >= 0
	case map[string]any:
		for k, e := range x {
			if hasBidi(k) || hasBidi(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasBidi(e) {
				return true
			}
		}
	}
	return false
}

// stripBidi returns v with bidirectional controls removed from every
// string and object key in it, copying only what changes.
func stripBidi(v any) any {
	switch x := v.(type) {
	case string:
		return sanitize.StripBidi(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[sanitize.StripBidi(k)] = stripBidi(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = stripBidi(e)
		}
		return out
	}
	return v
}
