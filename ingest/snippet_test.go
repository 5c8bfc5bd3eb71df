package ingest

import (
	"bytes"
	"testing"
)

// The snippet reads and sends the offer token under feeds.offer_param,
// written into the script as a JavaScript string literal.
func TestSnippetNamesTheConfiguredOfferParam(t *testing.T) {
	if js := snippetFor("rm_offer"); !bytes.Contains(js, []byte(`var OFFER_PARAM = "rm_offer";`)) {
		t.Error("the default name is not in the script")
	}
	js := snippetFor(`promo"'x`)
	if !bytes.Contains(js, []byte(`var OFFER_PARAM = "promo\"'x";`)) || bytes.Contains(js, []byte(`var OFFER_PARAM = 'rm_offer';`)) {
		t.Errorf("offer_param not substituted:\n%s", js)
	}
}
