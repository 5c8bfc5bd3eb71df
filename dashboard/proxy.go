package dashboard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/remarket/remarket/internal/config"
)

// call sends one request through the application's own router, as the
// signed-in site, and returns the answer. The dashboard uses it to show
// what the audiences API, the feeds and the erasure API really answer.
func (u *UI) call(ctx context.Context, site config.Site, method, path string, feed bool) (int, []byte, error) {
	if u.app == nil {
		return 0, nil, fmt.Errorf("dashboard: not registered on the application's engine")
	}
	req, err := http.NewRequestWithContext(ctx, method, path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.RemoteAddr = "127.0.0.1:0"
	if feed {
		req.SetBasicAuth("dashboard", site.FeedToken)
	} else {
		req.Header.Set("Authorization", "Bearer "+site.AdminToken)
	}
	req.Header.Set("X-Remarket-Dashboard", "1")
	w := httptest.NewRecorder()
	u.app.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, body, nil
}

func sitePath(site config.Site, format string, args ...any) string {
	esc := make([]any, len(args))
	for i, a := range args {
		esc[i] = url.PathEscape(fmt.Sprint(a))
	}
	return fmt.Sprintf("/api/sites/%s"+format, append([]any{url.PathEscape(site.ID)}, esc...)...)
}
