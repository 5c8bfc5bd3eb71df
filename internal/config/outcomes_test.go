package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/config"
)

func TestHoldoutKeyFromStarterEnvAndRedaction(t *testing.T) {
	starter, err := config.Starter("shop")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(starter), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.HoldoutKey) < 24 {
		t.Fatalf("starter holdout_key = %q, want a random secret", cfg.HoldoutKey)
	}
	if other, _ := config.Starter("shop"); strings.Contains(other, cfg.HoldoutKey) {
		t.Fatal("two starters share a holdout key")
	}
	if r := cfg.Redacted(); strings.Contains(r.HoldoutKey, cfg.HoldoutKey) {
		t.Fatalf("redacted config shows the holdout key: %q", r.HoldoutKey)
	}
	env, err := config.Parse([]byte(starter), []string{"REMARKET_HOLDOUT_KEY=holdout-key-from-the-environment-0123"})
	if err != nil {
		t.Fatal(err)
	}
	if env.HoldoutKey != "holdout-key-from-the-environment-0123" {
		t.Fatalf("REMARKET_HOLDOUT_KEY not applied: %q", env.HoldoutKey)
	}
}

func TestAudienceOutcomeDefaults(t *testing.T) {
	zero, twenty := 0.0, 20.0
	cases := []struct {
		name    string
		holdout *float64
		window  config.Duration
		wantH   float64
		wantW   time.Duration
	}{
		{"absent", nil, 0, 10, 14 * 24 * time.Hour},
		{"disabled", &zero, 0, 0, 14 * 24 * time.Hour},
		{"set", &twenty, config.Duration(7 * 24 * time.Hour), 20, 7 * 24 * time.Hour},
	}
	for _, c := range cases {
		a := config.Audience{HoldoutPercent: c.holdout, AttributionWindow: c.window}
		if a.Holdout() != c.wantH || time.Duration(a.Attribution()) != c.wantW {
			t.Errorf("%s: holdout %g, window %s; want %g, %s", c.name, a.Holdout(), a.Attribution(), c.wantH, c.wantW)
		}
	}
}

func TestAudienceOutcomeFieldsAreValidated(t *testing.T) {
	base := func() config.Audience {
		return config.Audience{Name: "a", Strategy: config.Upsell, Include: []config.Condition{{Events: []string{"product_view"}}}}
	}
	neg, big, ok := -1.0, 51.0, 50.0
	cases := []struct {
		name  string
		edit  func(*config.Audience)
		field string // "" when valid
	}{
		{"holdout 50", func(a *config.Audience) { a.HoldoutPercent = &ok }, ""},
		{"negative holdout", func(a *config.Audience) { a.HoldoutPercent = &neg }, "holdout_percent"},
		{"holdout over 50", func(a *config.Audience) { a.HoldoutPercent = &big }, "holdout_percent"},
		{"window 90d", func(a *config.Audience) { a.AttributionWindow = config.Duration(90 * 24 * time.Hour) }, ""},
		{"window over 90d", func(a *config.Audience) { a.AttributionWindow = config.Duration(91 * 24 * time.Hour) }, "attribution_window"},
	}
	for _, c := range cases {
		a := base()
		c.edit(&a)
		err := a.Validate()
		var fe *config.FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: rejected: %v", c.name, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.field)
		}
	}
	// YAML: 0 disables, absent is the default.
	cfg, err := config.Parse([]byte(`sites:
  - id: s
    write_key: k
    admin_token: 0123456789abcdef
    feed_token: 0123456789abcdef-feed
    audiences:
      - {name: off, strategy: upsell, holdout_percent: 0, include: [{events: [product_view]}]}
      - {name: dflt, strategy: upsell, attribution_window: 7d, include: [{events: [product_view]}]}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Sites[0].Audiences
	if a[0].Holdout() != 0 || a[1].Holdout() != 10 || a[1].Attribution() != config.Duration(7*24*time.Hour) {
		t.Fatalf("parsed %+v", a)
	}
}
