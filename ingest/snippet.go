package ingest

import (
	_ "embed"
	"fmt"
	"html"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
)

// snippetJS is the browser script served at /t.js.
//
//go:embed static/t.js
var snippetJS []byte

// serveSnippet answers GET /t.js. The script is the same for every site
// (it reads its write key from its own src), so browsers and CDNs may
// cache it for an hour.
func serveSnippet(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	c.Data(http.StatusOK, "application/javascript; charset=utf-8", snippetJS)
}

// SnippetHTML is the tag a site pastes into every page: the queue stub, a
// page call, the async script and the <noscript> pixel for browsers
// without JavaScript. publicURL is config public_url.
func SnippetHTML(publicURL, writeKey string) string {
	k := url.QueryEscape(writeKey)
	base := html.EscapeString(publicURL)
	return fmt.Sprintf(`<script>
window.remarket=window.remarket||function(){(remarket.q=remarket.q||[]).push(arguments)};
remarket('page');
</script>
<script async src="%[1]s/t.js?k=%[2]s"></script>
<noscript><img src="%[1]s/p.gif?k=%[2]s" alt="" width="1" height="1" style="display:none"></noscript>
`, base, html.EscapeString(k))
}
