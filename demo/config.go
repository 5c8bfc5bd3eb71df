package demo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/remarket/remarket/internal/config"
)

// Site, WriteKey: the demo site as PRODUCT.md §7 names it.
const (
	Site     = "demo"
	WriteKey = "wk_demo"
)

// MaxPast is the ingest clock bound the demo needs: its traffic goes back
// 60 days, and lapsed customers' last purchases up to 150, past ingest's
// default of 30.
const MaxPast = 180 * 24 * time.Hour

// EnsureConfig makes the config file at path hold the demo site and an
// ingest.max_past of at least MaxPast. A missing file is created from the
// starter (fresh secrets, built-in audiences and discounts); an existing
// one keeps everything it has, including the demo site's secrets on a
// re-run. It reports what it changed ("" when nothing).
func EnsureConfig(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		starter, err := starterConfig()
		if err != nil {
			return "", err
		}
		starter += fmt.Sprintf("\n# The demo's traffic goes back up to 150 days; ingest refuses events older than max_past.\ningest:\n  max_past: %s\n", MaxPast)
		if err := writeFile(path, []byte(starter)); err != nil {
			return "", err
		}
		return "created " + path, nil
	}
	if err != nil {
		return "", fmt.Errorf("cannot read config %q: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("config %q: %w", path, err)
	}
	if len(doc.Content) == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return "", fmt.Errorf("config %q: the top level must be a mapping", path)
	}
	var changes []string
	sites := mapValue(root, "sites")
	if sites == nil || sites.Kind != yaml.SequenceNode {
		sites = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		setValue(root, "sites", sites)
	}
	if !hasSite(sites, Site) {
		site, err := starterSite()
		if err != nil {
			return "", err
		}
		sites.Content = append(sites.Content, site)
		changes = append(changes, "added site "+Site)
	}
	// Files written before erasure_key existed get one, so the demo's
	// erasures are keyed by it rather than by the admin token.
	if v := mapValue(root, "erasure_key"); v == nil || v.Value == "" {
		setValue(root, "erasure_key", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "erk_" + config.Secret(32)})
		changes = append(changes, "added erasure_key")
	}
	// And a holdout_key, so the demo's holdout groups are unpredictable.
	if v := mapValue(root, "holdout_key"); v == nil || v.Value == "" {
		setValue(root, "holdout_key", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "hk_" + config.Secret(24)})
		changes = append(changes, "added holdout_key")
	}
	ingest := mapValue(root, "ingest")
	if ingest == nil || ingest.Kind != yaml.MappingNode {
		ingest = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setValue(root, "ingest", ingest)
	}
	cur := time.Duration(0)
	if v := mapValue(ingest, "max_past"); v != nil {
		cur, _ = time.ParseDuration(v.Value)
	}
	if cur < MaxPast {
		setValue(ingest, "max_past", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: MaxPast.String()})
		changes = append(changes, "set ingest.max_past to "+MaxPast.String())
	}
	if len(changes) == 0 {
		return "", nil
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", err
	}
	if _, err := config.Parse(out.Bytes(), nil); err != nil {
		return "", fmt.Errorf("config %q with the demo site does not validate: %w", path, err)
	}
	if err := writeFile(path, out.Bytes()); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: %v", path, changes), nil
}

// HoldoutPercent is the demo's holdout_percent for viewed_not_bought, its
// largest audience. The demo's audiences hold a few hundred people: at the
// default 10% a holdout of 60 leaves the lift's interval about ±10
// percentage points wide, so the demo holds out a quarter of that one to
// show a measurable lift, and keeps the default on the others, whose
// holdouts are too small to conclude anything (the dashboard says so).
const HoldoutPercent = 25

// starterConfig is the starter config of the demo site, with its holdout.
func starterConfig() (string, error) {
	starter, err := config.Starter(Site)
	if err != nil {
		return "", err
	}
	const name = "      - name: viewed_not_bought\n"
	return strings.Replace(starter, name, name+fmt.Sprintf("        holdout_percent: %d   # the demo's audiences are small: a bigger holdout shows the lift\n", HoldoutPercent), 1), nil
}

// starterSite is the demo site entry of a fresh starter config, with its
// audiences and discounts.
func starterSite() (*yaml.Node, error) {
	starter, err := starterConfig()
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(starter), &doc); err != nil {
		return nil, err
	}
	sites := mapValue(doc.Content[0], "sites")
	if sites == nil || len(sites.Content) != 1 {
		return nil, errors.New("starter config has no site")
	}
	return sites.Content[0], nil
}

func hasSite(sites *yaml.Node, id string) bool {
	for _, s := range sites.Content {
		if v := mapValue(s, "id"); v != nil && v.Value == id {
			return true
		}
	}
	return false
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// writeFile replaces path atomically with mode 0600: it holds secrets.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("cannot write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot replace %s: %w", path, err)
	}
	return nil
}
