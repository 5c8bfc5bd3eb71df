package main

import (
	"net"
	"strings"
)

func listen(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

// printBanner tells a new user where the pixel and snippet are.
func (a *app) printBanner(addr string) {
	base := a.cfg.PublicURL
	if strings.HasSuffix(base, ":0") { // listen on a random port: show the real one
		base = "http://" + addr
	}
	a.printf("remarket listening on %s\n", addr)
	for _, s := range a.cfg.Sites {
		a.printf("site %s:\n  pixel:   %s/p.gif?k=%s\n  snippet: <script async src=\"%s/t.js?k=%s\"></script>\n", s.ID, base, s.WriteKey, base, s.WriteKey)
	}
}
