// Package config is remarket's one documented configuration: a YAML file
// (--config, REMARKET_CONFIG, default ./remarket.yaml), where every
// top-level key can be overridden by REMARKET_<KEY> (the value is parsed as
// YAML, so scalars and whole structures both work) and the database by
// CLICKHOUSE_DSN. Secrets are redacted whenever the config is printed.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/remarket/remarket/internal/chdb"
)

// Config is the whole file. Each field documents its default.
type Config struct {
	// ClickHouse is the native-protocol DSN (default
	// clickhouse://127.0.0.1:9000/remarket; env CLICKHOUSE_DSN wins).
	ClickHouse string `yaml:"clickhouse"`
	// ClickHouseCluster names the ClickHouse cluster (remote_servers) the
	// tables live on: replicated, sharded by visitor, every DDL ON CLUSTER
	// (default "": one server; env REMARKET_CLICKHOUSE_CLUSTER).
	ClickHouseCluster string `yaml:"clickhouse_cluster"`
	// Listen is the HTTP address of serve (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// PublicURL is how browsers and ad platforms reach this server, used in
	// printed snippets and feed links (default http://<listen>).
	PublicURL string `yaml:"public_url"`
	// SpoolDir holds the durable write-ahead spool (default ./data/spool).
	SpoolDir string `yaml:"spool_dir"`
	// LogLevel is debug, info, warn or error (default info).
	LogLevel string `yaml:"log_level"`
	// ErasureKey keys the hash by which erasure_log names an erased
	// visitor or user (env REMARKET_ERASURE_KEY; at least 32 characters;
	// remarket init generates one). Empty: a key derived from each site's
	// admin token (see privacy.SubjectKey). A secret: without it, the log
	// cannot be tested against guessed ids.
	ErasureKey string `yaml:"erasure_key"`
	// HoldoutKey is the secret that keys each person's holdout assignment
	// (see Audience.HoldoutPercent; env REMARKET_HOLDOUT_KEY). remarket
	// init writes a random one. Without it the assignment is still
	// deterministic, but anyone who knows an id can compute its group.
	// Changing it reassigns everyone.
	HoldoutKey string `yaml:"holdout_key"`

	HTTP     HTTP     `yaml:"http"`
	Spool    Spool    `yaml:"spool"`
	Ingest   Ingest   `yaml:"ingest"`
	Segments Segments `yaml:"segments"`
	Feeds    Feeds    `yaml:"feeds"`

	Sites []Site `yaml:"sites"`
}

// Site is one tracked website. WriteKey is public (it is in the pixel);
// AdminToken and FeedToken are secrets.
type Site struct {
	ID         string   `yaml:"id"`
	WriteKey   string   `yaml:"write_key"`
	AdminToken string   `yaml:"admin_token"`
	FeedToken  string   `yaml:"feed_token"`
	Origins    []string `yaml:"origins"` // CORS allow-list for the collect API; empty allows any origin
	// RetentionDays drops event partitions older than this (0 keeps all).
	RetentionDays int `yaml:"retention_days"`

	SiteSegments `yaml:",inline"`
	SiteFeeds    `yaml:",inline"`
}

// HTTP bounds what clients of serve's listener can hold: connections,
// requests sending bodies, and time. Each limit's answer names its key.
type HTTP struct {
	// MaxConnections caps open connections (default 10000, and at most the
	// process's open-file limit less 256). At the cap new connections wait
	// in the kernel's queue until one closes.
	MaxConnections int `yaml:"max_connections"`
	// MaxBodyRequests caps requests that send a body (the collect API,
	// admin writes) being received or handled at once (default 256, at
	// most half of MaxConnections); more are answered 503 at once, so slow
	// uploads cannot take the connections the pixel and health checks need.
	MaxBodyRequests int `yaml:"max_body_requests"`
	// ReadHeaderTimeout bounds receiving a request's headers (default 10s),
	// ReadTimeout its headers and body (default 30s).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	// WriteTimeout is the longest one write of a response may wait for a
	// client that does not read it (default 30s); a long-running handler
	// or a long stream is fine as long as the client keeps reading.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long (default 120s).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// Spool tunes the durable queue between HTTP and ClickHouse.
type Spool struct {
	// MaxBytes caps unshipped data on disk (default 1 GiB). At the cap the
	// JSON API answers 429 with Retry-After and the pixel drops (counted).
	MaxBytes int64 `yaml:"max_bytes"`
	// SegmentBytes is the size at which a spool file is sealed (default 64 MiB).
	SegmentBytes int64 `yaml:"segment_bytes"`
	// BatchRows and FlushInterval bound one insert into ClickHouse
	// (defaults 10000 rows, 1s).
	BatchRows     int           `yaml:"batch_rows"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	// CommitInterval is ignored and only still read so that older config
	// files load: appends that arrive while a group is being fsync'd form
	// the next group by themselves, and waiting for more made
	// BenchmarkAppendParallel five times slower. See Warnings.
	CommitInterval time.Duration `yaml:"commit_interval"`
}

// Ingest sets limits and privacy rules of the collection endpoints.
type Ingest struct {
	MaxEventBytes   int  `yaml:"max_event_bytes"`   // default 32768
	MaxRequestBytes int  `yaml:"max_request_bytes"` // default 512000
	HonorDNT        bool `yaml:"honor_dnt"`         // default true; Sec-GPC is always honoured
	// IPMode is truncate (default: /24 for IPv4, /48 for IPv6), drop or keep.
	IPMode string `yaml:"ip_mode"`
	// Cookie sets the _rmid first-party cookie (default true).
	Cookie *bool `yaml:"cookie"`
	// MaxPast and MaxFuture bound an event's corrected time against the
	// time it was received (defaults 720h and 10m): the JSON API rejects an
	// event outside them with 400, the pixel stores the received time.
	MaxPast   time.Duration `yaml:"max_past"`
	MaxFuture time.Duration `yaml:"max_future"`
}

// Default returns the configuration used when a key is absent.
func Default() Config {
	return Config{
		ClickHouse: "clickhouse://127.0.0.1:9000/remarket",
		Listen:     "127.0.0.1:8080",
		SpoolDir:   "./data/spool",
		LogLevel:   "info",
		HTTP: HTTP{
			MaxConnections:    10000,
			MaxBodyRequests:   256,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
		},
		Spool: Spool{
			MaxBytes:      1 << 30,
			SegmentBytes:  64 << 20,
			BatchRows:     10000,
			FlushInterval: time.Second,
		},
		Ingest: Ingest{
			MaxEventBytes:   32 << 10,
			MaxRequestBytes: 500 << 10,
			HonorDNT:        true,
			IPMode:          "truncate",
			MaxPast:         30 * 24 * time.Hour,
			MaxFuture:       10 * time.Minute,
		},
		Segments: defaultSegments(),
		Feeds:    defaultFeeds(),
	}
}

// Load reads path (a missing file is an error only when required) and
// applies environment overrides.
func Load(path string, required bool) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil && (required || !errors.Is(err, os.ErrNotExist)) {
		return Config{}, fmt.Errorf("cannot read config %q: %w", path, err)
	}
	return Parse(raw, os.Environ())
}

// Parse decodes YAML then the REMARKET_* / CLICKHOUSE_DSN overrides in env.
func Parse(raw []byte, env []string) (Config, error) {
	cfg := Default()
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := decodeStrict(raw, &cfg); err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.Listen
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return cfg, cfg.Validate()
}

func decodeStrict(raw []byte, into any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	// A second document ("---" and more keys) would be ignored, and with
	// it every setting it holds.
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return fmt.Errorf("line %d: a second YAML document starts here (---); write the whole configuration as one document", more.Line)
	}
	return nil
}

// applyEnv overrides each top-level key K from REMARKET_K, unless that is
// empty.
func applyEnv(cfg *Config, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	rv := reflect.ValueOf(cfg).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		key := strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		name := "REMARKET_" + strings.ToUpper(key)
		v := vars[name]
		if v == "" { // set to nothing is unset, as CLICKHOUSE_DSN
			continue
		}
		f := rv.Field(i)
		if f.Kind() == reflect.String {
			f.SetString(v)
			continue
		}
		if err := decodeStrict([]byte(v), f.Addr().Interface()); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
	}
	if dsn := vars["CLICKHOUSE_DSN"]; dsn != "" {
		cfg.ClickHouse = dsn
	}
	return nil
}

// Validate checks what would otherwise fail later and less clearly.
func (c Config) Validate() error {
	var errs []error
	ids, keys := map[string]bool{}, map[string]bool{}
	for i, s := range c.Sites {
		where := fmt.Sprintf("sites[%d]", i)
		if !validSiteID(s.ID) {
			errs = append(errs, fmt.Errorf("%s.id %q: use 1-64 letters, digits, '-' or '_'", where, s.ID))
		}
		if ids[s.ID] {
			errs = append(errs, fmt.Errorf("%s.id %q is used twice", where, s.ID))
		}
		ids[s.ID] = true
		if s.WriteKey == "" {
			errs = append(errs, fmt.Errorf("%s.write_key is required", where))
		} else if keys[s.WriteKey] {
			errs = append(errs, fmt.Errorf("%s.write_key is used by another site", where))
		}
		keys[s.WriteKey] = true
		if len(s.AdminToken) < 16 {
			errs = append(errs, fmt.Errorf("%s.admin_token must be at least 16 characters", where))
		}
		if len(s.FeedToken) < 16 {
			errs = append(errs, fmt.Errorf("%s.feed_token must be at least 16 characters", where))
		}
		// The write key is in every page's snippet and the feed token in
		// the feed URLs given to ad platforms: neither may open the admin API.
		if s.AdminToken != "" && (s.AdminToken == s.WriteKey || s.AdminToken == s.FeedToken) {
			errs = append(errs, fmt.Errorf("%s.admin_token must differ from the site's write_key and feed_token, which are shown to others", where))
		}
		for j, o := range s.Origins {
			if !validOrigin(o) {
				errs = append(errs, fmt.Errorf("%s.origins[%d] %q: want scheme://host[:port] as a browser sends it, such as https://shop.example", where, j, o))
			}
		}
		if s.RetentionDays < 0 {
			errs = append(errs, fmt.Errorf("%s.retention_days must be 0 (keep all) or more, got %d", where, s.RetentionDays))
		}
	}
	// Empty only before Parse derives it from listen.
	if u, err := url.Parse(c.PublicURL); c.PublicURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		errs = append(errs, fmt.Errorf("public_url %q: want an http:// or https:// URL with a host, such as https://remarket.example", c.PublicURL))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.ErasureKey != "" && len(c.ErasureKey) < 32 {
		errs = append(errs, errors.New("erasure_key must be at least 32 characters (remarket init writes a random one)"))
	}
	if c.HoldoutKey != "" && len(c.HoldoutKey) < 32 {
		errs = append(errs, errors.New("holdout_key must be at least 32 characters (remarket init writes a random one)"))
	}
	switch c.Ingest.IPMode {
	case "truncate", "drop", "keep":
	default:
		errs = append(errs, fmt.Errorf("ingest.ip_mode %q: want truncate, drop or keep", c.Ingest.IPMode))
	}
	errs = append(errs, c.Ingest.validate()...)
	errs = append(errs, c.HTTP.validate()...)
	if c.Spool.BatchRows <= 0 || c.Spool.MaxBytes <= 0 || c.Spool.SegmentBytes <= 0 {
		errs = append(errs, errors.New("spool.batch_rows, spool.max_bytes and spool.segment_bytes must be positive"))
	} else if c.Ingest.MaxRequestBytes > 0 && c.Spool.MaxBytes < int64(c.Ingest.MaxRequestBytes) {
		// A request is spooled whole or refused (429): a spool smaller
		// than the largest request refuses it for good, however empty.
		errs = append(errs, fmt.Errorf("spool.max_bytes (%d) must be at least ingest.max_request_bytes (%d): a request is spooled whole, so a smaller spool refuses the largest ones for good",
			c.Spool.MaxBytes, c.Ingest.MaxRequestBytes))
	}
	if c.Spool.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("spool.flush_interval must be positive, got %s", c.Spool.FlushInterval))
	}
	errs = append(errs, c.validateSegments()...)
	errs = append(errs, c.validateFeeds()...)
	return errors.Join(errs...)
}

func (i Ingest) validate() []error {
	var errs []error
	if i.MaxRequestBytes <= 0 {
		errs = append(errs, fmt.Errorf("ingest.max_request_bytes must be positive, got %d", i.MaxRequestBytes))
	}
	if i.MaxEventBytes <= 0 {
		errs = append(errs, fmt.Errorf("ingest.max_event_bytes must be positive, got %d", i.MaxEventBytes))
	} else if i.MaxRequestBytes > 0 && i.MaxEventBytes > i.MaxRequestBytes {
		errs = append(errs, fmt.Errorf("ingest.max_event_bytes (%d) must be at most ingest.max_request_bytes (%d)", i.MaxEventBytes, i.MaxRequestBytes))
	}
	if i.MaxPast < 0 || i.MaxFuture < 0 {
		errs = append(errs, fmt.Errorf("ingest.max_past and ingest.max_future must be 0 or more, got %s and %s", i.MaxPast, i.MaxFuture))
	}
	return errs
}

// validOrigin is a browser's Origin: scheme://host[:port], nothing more.
func validOrigin(o string) bool {
	u, err := url.Parse(strings.TrimRight(o, "/"))
	return err == nil && u.Scheme != "" && u.Host != "" && u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery
}

func (h HTTP) validate() []error {
	var errs []error
	if h.MaxConnections < 2 || h.MaxBodyRequests < 1 {
		errs = append(errs, errors.New("http.max_connections must be at least 2 and http.max_body_requests at least 1"))
	} else if h.MaxBodyRequests > h.MaxConnections/2 {
		errs = append(errs, fmt.Errorf("http.max_body_requests (%d) must be at most half of http.max_connections (%d): the rest keep the pixel and health checks answering", h.MaxBodyRequests, h.MaxConnections))
	}
	if h.ReadHeaderTimeout <= 0 || h.ReadTimeout <= 0 || h.WriteTimeout <= 0 || h.IdleTimeout <= 0 {
		errs = append(errs, errors.New("http.read_header_timeout, read_timeout, write_timeout and idle_timeout must be positive"))
	}
	return errs
}

// Warnings are problems worth a log line that do not stop a start: keys
// that are read but no longer do anything.
func (c Config) Warnings() []string {
	var w []string
	if c.Spool.CommitInterval != 0 {
		w = append(w, "spool.commit_interval is ignored (group commits wait for no timer); remove it from the config")
	}
	return w
}

func validSiteID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// Site returns the site with id.
func (c Config) Site(id string) (Site, bool) {
	for _, s := range c.Sites {
		if s.ID == id {
			return s, true
		}
	}
	return Site{}, false
}

// SiteByWriteKey returns the site a public write key belongs to.
func (c Config) SiteByWriteKey(key string) (Site, bool) {
	for _, s := range c.Sites {
		if s.WriteKey == key && key != "" {
			return s, true
		}
	}
	return Site{}, false
}

// CookieEnabled reports whether the _rmid cookie may be set.
func (i Ingest) CookieEnabled() bool { return i.Cookie == nil || *i.Cookie }

// Redacted is a copy safe to print or log: secrets replaced.
func (c Config) Redacted() Config {
	out := c
	out.Sites = make([]Site, len(c.Sites))
	for i, s := range c.Sites {
		s.AdminToken = redact(s.AdminToken)
		s.FeedToken = redact(s.FeedToken)
		s.SiteFeeds = s.SiteFeeds.redacted()
		out.Sites[i] = s
	}
	out.ClickHouse = chdb.Redact(c.ClickHouse)
	out.ErasureKey = redact(c.ErasureKey)
	out.HoldoutKey = redact(c.HoldoutKey)
	return out
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}
