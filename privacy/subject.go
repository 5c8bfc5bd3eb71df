package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/remarket/remarket/internal/config"
)

// SubjectKey is the key erasure_log hashes a site's subject ids with, and
// its name as recorded in erasure_log.subject_key.
//
// A plain SHA-256 of "site\x00id" was reversible for guessable ids
// (cust-00088 is found among a million candidates in a fraction of a
// second), so the hash is keyed: HMAC-SHA256 with the config's
// erasure_key. A config written before that key existed has none; then
// the key is derived from the site's admin token, which is as secret, and
// serve logs a warning. The name ("erasure_key:1a2b3c4d" or
// "admin_token:…", a fingerprint, never the key) says which key made a
// row, so a row can still be checked after the key changes, by whoever
// keeps the old one.
func SubjectKey(cfg config.Config, site config.Site) (key []byte, name string) {
	if cfg.ErasureKey != "" {
		return []byte(cfg.ErasureKey), "erasure_key:" + fingerprint(cfg.ErasureKey)
	}
	m := hmac.New(sha256.New, []byte(site.AdminToken))
	m.Write([]byte("remarket erasure_log subject key"))
	return m.Sum(nil), "admin_token:" + fingerprint(site.AdminToken)
}

// SubjectHash is how erasure_log names a subject: hex HMAC-SHA256 of
// "site\x00id" under key. Whoever holds the key and still knows the id
// can check it was erased; the log alone reveals nothing, even of a
// guessable id.
func SubjectHash(key []byte, site, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(site + "\x00" + id))
	return hex.EncodeToString(m.Sum(nil))
}

// fingerprint names a secret without revealing it: 4 bytes of its SHA-256.
func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:4])
}
