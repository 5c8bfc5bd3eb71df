package ingest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// realisticPixel is a product view as a shop's tag would send it.
const realisticPixel = "/p.gif?k=wk_open&e=product_view&pid=SKU-100234&sku=CAN-250D-BK&cat=Cameras+%3E+DSLR" +
	"&price=499.90&cur=EUR&qty=1&url=https%3A%2F%2Fshop.example%2Fcameras%2Fcanon-eos-250d%3Futm_source%3Dgoogle" +
	"&ref=https%3A%2F%2Fwww.google.com%2F&title=Canon+EOS+250D+%E2%80%93+Shop&vid=3f8a2c1e-5b7d-4e2a-9c1f-8d6e4b2a1c3e" +
	"&eid=0b9d1f6e-2c4a-4f8e-a1b3-7e5d9c2f4a6b&ts=1714564795000&st=1714564795120"

// BenchmarkPixelHandler measures the pixel's own work (parsing, mapping,
// privacy, the GIF answer) with a no-op durable write, so the spool and
// shipper are measured elsewhere.
func BenchmarkPixelHandler(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	h := &collector{cfg: testConfig(&testing.T{}), log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now,
		accept: func(context.Context, []Event) error { return nil }}
	r := gin.New()
	h.register(r)
	req := httptest.NewRequest(http.MethodGet, realisticPixel, nil)
	req.Header.Set("User-Agent", browserUA)
	req.RemoteAddr = "203.0.113.7:5000"
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
