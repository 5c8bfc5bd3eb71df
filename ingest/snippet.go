package ingest

import (
	"bytes"
	_ "embed"
	"encoding/json"
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

// snippetFor is the script with the offer token's parameter name
// (feeds.offer_param), which it reads from landing URLs and attaches to
// events under the same name.
func snippetFor(offerParam string) []byte {
	name, _ := json.Marshal(offerParam) // a JavaScript string literal
	return bytes.Replace(snippetJS, []byte("var OFFER_PARAM = 'rm_offer';"), []byte("var OFFER_PARAM = "+string(name)+";"), 1)
}

// serveSnippet answers GET /t.js. The script is the same for every site
// (it reads its write key from its own src), so browsers and CDNs may
// cache it for an hour.
func serveSnippet(js []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "application/javascript; charset=utf-8", js)
	}
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
