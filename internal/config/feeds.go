package config

// Feeds configures ad feeds and offers. (Extended by the feeds capability.)
type Feeds struct{}

// SiteFeeds are a site's own discount rules and offer keys.
type SiteFeeds struct{}

func defaultFeeds() Feeds { return Feeds{} }

func (c Config) validateFeeds() []error { return nil }

func (f SiteFeeds) redacted() SiteFeeds { return f }
