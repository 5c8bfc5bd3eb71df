package httplimit

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	openConnections = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "remarket_http_connections", Help: "Open client connections of serve's listener (capped by http.max_connections).",
	})
	limited = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_http_limited_total",
		Help: "Times a limit held clients back, by limit: max_connections (a connection waited to be accepted), max_body_requests (a request with a body was refused with 503).",
	}, []string{"limit"})
)
