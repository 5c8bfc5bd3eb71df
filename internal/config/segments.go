package config

// Segments configures interest inference, related products and runs.
// (Extended by the segments capability.)
type Segments struct {
	// Schedule is how often serve recomputes segments (default 15m; 0 disables).
	Schedule string `yaml:"schedule"`
}

// SiteSegments are a site's own audience definitions.
type SiteSegments struct{}

func defaultSegments() Segments { return Segments{Schedule: "15m"} }

func (c Config) validateSegments() []error { return nil }
