// Package ingest collects events: the pixel, the JS snippet, the
// Segment-compatible collect API, validation, bot and consent handling, the
// durable spool and the shipper that writes batches to ClickHouse.
package ingest

import (
	"time"

	"github.com/google/uuid"
)

// Event types every capability understands.
const (
	PageView        = "page_view"
	ProductView     = "product_view"
	ProductListView = "product_list_view"
	Search          = "search"
	AddToCart       = "add_to_cart"
	RemoveFromCart  = "remove_from_cart"
	Checkout        = "checkout"
	Purchase        = "purchase"
	Identify        = "identify"
	Custom          = "custom"
)

// Item is one product line of an event (a viewed product, a list entry,
// an order line).
type Item struct {
	ProductID string  `json:"pid,omitempty"`
	SKU       string  `json:"sku,omitempty"`
	Category  string  `json:"cat,omitempty"`
	Price     float64 `json:"price,omitempty"`
	Quantity  uint32  `json:"qty,omitempty"`
}

// Event is a validated event as it is spooled and stored: one row of the
// events table. The scalar product fields describe the event's main item
// (the first of Items).
type Event struct {
	Site       string    `json:"site"`
	ID         uuid.UUID `json:"id"`
	Time       time.Time `json:"t"`
	ReceivedAt time.Time `json:"rt"`
	Type       string    `json:"type"`
	Name       string    `json:"name,omitempty"` // original event name, e.g. "Product Viewed"
	VisitorID  string    `json:"vid,omitempty"`
	UserID     string    `json:"uid,omitempty"`
	ProductID  string    `json:"pid,omitempty"`
	SKU        string    `json:"sku,omitempty"`
	Category   string    `json:"cat,omitempty"`
	Price      float64   `json:"price,omitempty"`
	Currency   string    `json:"cur,omitempty"`
	Quantity   uint32    `json:"qty,omitempty"`
	OrderID    string    `json:"oid,omitempty"`
	Revenue    float64   `json:"rev,omitempty"`
	Items      []Item    `json:"items,omitempty"`
	URL        string    `json:"url,omitempty"`
	Referrer   string    `json:"ref,omitempty"`
	Title      string    `json:"title,omitempty"`
	UserAgent  string    `json:"ua,omitempty"`
	IP         string    `json:"ip,omitempty"`
	IsBot      bool      `json:"bot,omitempty"`
	OptedOut   bool      `json:"oo,omitempty"`
	Properties string    `json:"props,omitempty"`  // JSON object of the remaining properties
	Traits     string    `json:"traits,omitempty"` // JSON object (identify)
}
