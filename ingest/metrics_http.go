package ingest

import (
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Collector metrics. Label values come from fixed sets in this package,
// never from client input, so their number stays bounded.
var (
	eventsAccepted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_events_accepted_total",
		Help: "Events acknowledged after the durable spool write, by source (pixel, api).",
	}, []string{"source"})
	eventsRejected = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_events_rejected_total",
		Help: "JSON API requests refused, by reason (bad_json, missing_id, missing_event, bad_timestamp, bad_field, too_large, unauthorized, origin, content_type, content_encoding, timeout, spool_full, spool_unavailable).",
	}, []string{"reason"})
	pixelDropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_pixel_dropped_total",
		Help: "Pixel hits answered with the GIF but not stored, by reason (unknown_key, spool_full, spool_error).",
	}, []string{"reason"})
	pixelFieldsDropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_pixel_fields_dropped_total",
		Help: "Fields dropped from stored pixel hits because they broke a validation rule, by field.",
	}, []string{"field"})
)

var indexPattern = regexp.MustCompile(`\[\d+\]`)

// metricField turns a fieldError's field ("properties.products[3].price")
// into a bounded label ("products.price").
func metricField(field string) string {
	return indexPattern.ReplaceAllString(strings.TrimPrefix(field, "properties."), "")
}
