package feeds

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	skippedItems = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_feed_items_skipped_total",
		Help: "Products left out of generated feeds because they could not be made valid, by reason.",
	}, []string{"format", "reason"})
	generated = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_feed_generations_total",
		Help: "Feeds generated (cache misses), by format.",
	}, []string{"format"})
	servedFeeds = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_feed_requests_total",
		Help: "Feed requests answered, by format and outcome (hit, miss, not_modified).",
	}, []string{"format", "outcome"})
)
