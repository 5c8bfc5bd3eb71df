package privacy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/privacy"
)

// erasure_log must not let anyone who reads it find a guessable id by
// hashing candidates: the subject hash is keyed, with erasure_key or,
// in a config without one, a key derived from the site's admin token.
func TestErasureLogHashIsKeyed(t *testing.T) {
	site := config.Site{ID: "shop", WriteKey: "wk", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"}
	for _, tc := range []struct {
		name, key, keyName string
	}{
		{"erasure_key", "erasure-key-0123456789abcdef0123456789", "erasure_key:"},
		{"no erasure_key (older config)", "", "admin_token:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := chtest.MustOpen(t)
			addEvent(t, db, "shop", "v-88", "cust-00088", time.Now().UTC())
			cfg := config.Config{ErasureKey: tc.key, Sites: []config.Site{site}}
			gin.SetMode(gin.TestMode)
			r := gin.New()
			privacy.NewAPI(cfg, db, quiet).Register(r)
			req := httptest.NewRequest(http.MethodDelete, "/api/sites/shop/users/cust-00088", nil)
			req.Header.Set("Authorization", "Bearer "+site.AdminToken)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("erase: %d %s", w.Code, w.Body)
			}
			var stored string
			if err := db.QueryRow(t.Context(), "SELECT subject_sha256 FROM erasure_log WHERE site = 'shop'").Scan(&stored); err != nil {
				t.Fatal(err)
			}
			// What an attacker with the log tries: every guessable id.
			for i := range 100000 {
				sum := sha256.Sum256([]byte(fmt.Sprintf("shop\x00cust-%05d", i)))
				if hex.EncodeToString(sum[:]) == stored {
					t.Fatalf("erasure_log's hash is the plain SHA-256 of cust-%05d", i)
				}
			}
			key, name := privacy.SubjectKey(cfg, site)
			var keyName string
			if err := db.QueryRow(t.Context(), "SELECT subject_key FROM erasure_log WHERE site = 'shop'").Scan(&keyName); err != nil {
				t.Fatal(err)
			}
			if stored != privacy.SubjectHash(key, "shop", "cust-00088") || keyName != name || len(name) <= len(tc.keyName) || name[:len(tc.keyName)] != tc.keyName {
				t.Fatalf("erasure_log has %s by %q, want the keyed hash by %q", stored, keyName, name)
			}
		})
	}
	other := config.Config{ErasureKey: "another-erasure-key-0123456789abcdef"}
	k1, _ := privacy.SubjectKey(config.Config{ErasureKey: "erasure-key-0123456789abcdef0123456789"}, site)
	k2, _ := privacy.SubjectKey(other, site)
	if privacy.SubjectHash(k1, "shop", "x") == privacy.SubjectHash(k2, "shop", "x") {
		t.Fatal("two keys give the same hash")
	}
}
