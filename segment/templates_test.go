package segment_test

import (
	"context"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

func TestStarterConfigCarriesTheTemplates(t *testing.T) {
	s, err := config.Starter("main")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	site, _ := cfg.Site("main")
	want := map[string]string{"viewed_not_bought": "upsell", "cart_abandoners": "reminder", "recent_buyers": "cross_sell",
		"category_enthusiasts": "upsell", "lapsed_customers": "winback", "professional_buyers": "cross_sell"}
	if len(site.Audiences) != len(want) {
		t.Fatalf("starter has %d audiences, want %d", len(site.Audiences), len(want))
	}
	for _, a := range site.Audiences {
		if want[a.Name] != a.Strategy {
			t.Errorf("%s: strategy %q, want %q", a.Name, a.Strategy, want[a.Name])
		}
	}
	if len(segment.Templates()) != len(want) {
		t.Errorf("Templates() has %d", len(segment.Templates()))
	}
}

func TestSchedulerRunsAtStartAndStops(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, ev{vid: "v", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"})
	cfg := testConfig(t, segment.Templates()...)
	cfg.Segments.Schedule = "1h"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		segment.NewScheduler(cfg, db, nil).Run(ctx)
		close(done)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n uint64
		db.QueryRow(context.Background(), "SELECT count() FROM v_segment_runs WHERE site = ? AND status = 'ok'", site).Scan(&n)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scheduled run completed within 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("scheduler did not stop")
	}
}

func TestSchedulersOfTwoInstancesRunASiteOnce(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, ev{vid: "v", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"})
	cfg := testConfig(t, segment.Templates()...)
	cfg.Segments.Schedule = "15m"
	first, second := segment.NewScheduler(cfg, db, nil), segment.NewScheduler(cfg, db, nil)
	first.RunOnce(context.Background())
	second.RunOnce(context.Background()) // another serve instance, moments later
	var n uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM v_segment_runs WHERE site = ?", site).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d runs after two instances' scheduled rounds, want 1", n)
	}
}
