package dashboard_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every answer of the dashboard's API, signed in or not, is kept by no
// cache: they hold visitors' events, feed tokens and the CSRF token, and a
// browser's disk cache or a shared proxy would keep them past sign-out.
func TestDashboardAnswersAreNotStored(t *testing.T) {
	srv := newServer(t)
	resp, body := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var s struct{ CSRF string }
	json.Unmarshal([]byte(body), &s)
	cookie := strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]
	check := func(what string, hdr map[string]string, method, path string) {
		t.Helper()
		resp, body := do(t, srv, method, path, "", hdr)
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s %s (%s): %d, Cache-Control %q, want no-store", method, path, what, resp.StatusCode, cc)
		}
		if ns := resp.Header.Get("X-Content-Type-Options"); ns != "nosniff" {
			t.Errorf("%s %s (%s): X-Content-Type-Options %q, want nosniff (%.80s)", method, path, what, ns, body)
		}
	}
	check("the sign-in", map[string]string{"Content-Type": "application/json"}, "POST", "/ui/api/login")
	for _, path := range []string{"/ui/api/session", "/ui/api/overview", "/ui/api/visitors/v1", "/ui/api/products/nope"} {
		check("signed in", map[string]string{"Cookie": cookie}, "GET", path)
		check("signed out", nil, "GET", path)
	}
	check("signed in", map[string]string{"Cookie": cookie, "X-CSRF-Token": s.CSRF}, "POST", "/ui/api/logout")
}

// The dashboard's page may not be framed (clickjacking), loads nothing
// from elsewhere (no image beacons out of an injected tag), and an injected
// <base> or <form> can neither move its relative URLs nor post elsewhere.
func TestDashboardPageHeaders(t *testing.T) {
	srv := newServer(t)
	for _, path := range []string{"/ui/", "/ui/app.js"} {
		resp, _ := do(t, srv, "GET", path, "", nil)
		csp := map[string]string{}
		for _, d := range strings.Split(resp.Header.Get("Content-Security-Policy"), ";") {
			if f := strings.Fields(d); len(f) > 0 {
				csp[f[0]] = strings.Join(f[1:], " ")
			}
		}
		for dir, want := range map[string]string{
			"default-src": "'self'", "img-src": "'self'", "script-src": "'self'", "style-src": "'self'",
			"frame-ancestors": "'none'", "base-uri": "'none'", "form-action": "'self'", "object-src": "'none'",
		} {
			if csp[dir] != want {
				t.Errorf("%s: CSP %s is %q, want %q (%s)", path, dir, csp[dir], want, resp.Header.Get("Content-Security-Policy"))
			}
		}
		if xfo := resp.Header.Get("X-Frame-Options"); xfo != "DENY" {
			t.Errorf("%s: X-Frame-Options %q, want DENY", path, xfo)
		}
		if rp := resp.Header.Get("Referrer-Policy"); rp != "same-origin" && rp != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q, want same-origin", path, rp)
		}
	}
}
