package config

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// Secret returns a random URL-safe token of n random bytes.
func Secret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// starterTemplate is what `remarket init` writes. Sections of other
// capabilities (audiences, discounts) are appended by StarterSections.
const starterTemplate = `# remarket configuration. Every top-level key can be overridden by
# REMARKET_<KEY> (e.g. REMARKET_LISTEN), the database by CLICKHOUSE_DSN.
clickhouse: clickhouse://127.0.0.1:9000/remarket
# clickhouse_cluster: my_cluster  # tables ON CLUSTER, sharded by visitor (README, "Running at scale")
listen: 127.0.0.1:8080
spool_dir: ./data/spool
erasure_key: {{erasure}}   # secret: keys the id hashes of erasure_log
holdout_key: {{holdout}}   # secret: keys who is in each audience's holdout

sites:
  - id: {{site}}
    write_key: wk_{{site}}        # public, goes into the pixel
    admin_token: {{admin}}        # secret: admin API and dashboard
    feed_token: {{feed}}          # secret: ad platforms pulling feeds
    origins: []                   # CORS allow-list; empty allows any origin
`

// StarterSections are extra per-site YAML blocks (indented for a site
// entry) that capabilities add to the starter file, in order.
var StarterSections []func(site string) string

// Starter renders a starter config for site with fresh random secrets.
func Starter(site string) (string, error) {
	if !validSiteID(site) {
		return "", fmt.Errorf("site id %q: use 1-64 letters, digits, '-' or '_'", site)
	}
	s := strings.NewReplacer("{{site}}", site, "{{admin}}", "adm_"+Secret(24), "{{feed}}", "feed_"+Secret(24),
		"{{erasure}}", "erk_"+Secret(32), "{{holdout}}", "hk_"+Secret(24)).Replace(starterTemplate)
	for _, sec := range StarterSections {
		s += sec(site)
	}
	if _, err := Parse([]byte(s), nil); err != nil {
		return "", fmt.Errorf("starter config does not validate: %w", err)
	}
	return s, nil
}

// WriteStarter writes a starter file to path, refusing to overwrite.
func WriteStarter(path, site string) error {
	s, err := Starter(site)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
