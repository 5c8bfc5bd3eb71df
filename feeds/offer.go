package feeds

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/config"
)

// Offer is what a signed token promises: a discount on one product of one
// site, for an audience (and a visitor when known), until Expires. Field
// names are short because the token rides in every landing link.
type Offer struct {
	KeyID         string  `json:"k"`
	Site          string  `json:"s"`
	Audience      string  `json:"a"`
	Visitor       string  `json:"vi,omitempty"`
	Product       string  `json:"p"`
	Percent       float64 `json:"pc,omitempty"`
	Amount        string  `json:"am,omitempty"` // fixed amount off, decimal in Currency
	SalePrice     string  `json:"sp,omitempty"` // the price the feed advertised
	BundlePercent float64 `json:"bp,omitempty"`
	Anchor        string  `json:"an,omitempty"` // the bundle price needs this product in the same order
	Currency      string  `json:"cu,omitempty"`
	NotBefore     int64   `json:"nb"`
	Expires       int64   `json:"exp"`
	// ListPrice is the price the feed showed before the discount, and
	// Rule the discount rule that made the offer (ruleKey): a redemption
	// reports the discount given away per audience, rule and product.
	ListPrice string `json:"lp,omitempty"`
	Rule      string `json:"r,omitempty"`
}

// OfferJSON is the offer as /api/offers/verify answers it.
type OfferJSON struct {
	Site          string    `json:"site"`
	Audience      string    `json:"audience"`
	Visitor       string    `json:"visitor_id,omitempty"`
	Product       string    `json:"product_id"`
	Percent       float64   `json:"percent_off,omitempty"`
	Amount        string    `json:"amount_off,omitempty"`
	SalePrice     string    `json:"sale_price,omitempty"`
	BundlePercent float64   `json:"bundle_percent_off,omitempty"`
	Anchor        string    `json:"bundle_with_product_id,omitempty"`
	Currency      string    `json:"currency,omitempty"`
	ValidFrom     time.Time `json:"valid_from"`
	ValidUntil    time.Time `json:"valid_until"`
	KeyID         string    `json:"key_id"`
	ListPrice     string    `json:"list_price,omitempty"`
	RuleKey       string    `json:"rule_key,omitempty"`
}

// JSON is the readable form of o.
func (o Offer) JSON() OfferJSON {
	return OfferJSON{
		Site: o.Site, Audience: o.Audience, Visitor: o.Visitor, Product: o.Product,
		Percent: o.Percent, Amount: o.Amount, SalePrice: o.SalePrice,
		BundlePercent: o.BundlePercent, Anchor: o.Anchor, Currency: o.Currency,
		ValidFrom: time.Unix(o.NotBefore, 0).UTC(), ValidUntil: time.Unix(o.Expires, 0).UTC(), KeyID: o.KeyID,
		ListPrice: o.ListPrice, RuleKey: o.Rule,
	}
}

// b64 encodes tokens; strictB64 decodes them. One offer has one token:
// a lenient decoder would also take the encodings whose unused last bits
// are not zero, so several strings would verify as the same offer.
var (
	b64       = base64.RawURLEncoding
	strictB64 = base64.RawURLEncoding.Strict()
)

// SignOffer returns the token "payload.signature" (both base64url), the
// payload being the offer's JSON and the signature HMAC-SHA256 over the
// encoded payload with the site's newest key. ok is false when the site
// has no offer key.
func SignOffer(keys []config.OfferKey, o Offer) (string, bool) {
	return newSigner(keys).sign(o)
}

// signer signs many offers with one key, reusing its HMAC state (a feed
// signs one offer per discounted item).
type signer struct {
	id  string
	mac hash.Hash
	buf []byte
}

func newSigner(keys []config.OfferKey) *signer {
	if len(keys) == 0 {
		return nil
	}
	return &signer{id: keys[0].ID, mac: hmac.New(sha256.New, []byte(keys[0].Secret))}
}

func (s *signer) sign(o Offer) (string, bool) {
	if s == nil {
		return "", false
	}
	o.KeyID = s.id
	raw, err := json.Marshal(o)
	if err != nil {
		return "", false
	}
	n := b64.EncodedLen(len(raw))
	s.buf = append(s.buf[:0], make([]byte, n+1+b64.EncodedLen(sha256.Size))...)
	b64.Encode(s.buf, raw)
	s.mac.Reset()
	s.mac.Write(s.buf[:n])
	var sum [sha256.Size]byte
	s.buf[n] = '.'
	b64.Encode(s.buf[n+1:], s.mac.Sum(sum[:0]))
	return string(s.buf), true
}

func mac(secret, payload string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// Why an offer token is refused; each is shown to the caller as is.
const (
	ReasonMalformed    = "malformed"
	ReasonUnknownSite  = "unknown_site"
	ReasonUnknownKey   = "unknown_key"
	ReasonBadSignature = "bad_signature"
	ReasonExpired      = "expired"
	ReasonNotYetValid  = "not_yet_valid"
	ReasonWrongSite    = "wrong_site"
)

// OfferError says why a token is not a valid offer.
type OfferError struct {
	Reason  string
	Message string
}

func (e *OfferError) Error() string { return e.Reason + ": " + e.Message }

// VerifyOffer checks a token: well-formed, for a configured site, signed
// by one of its keys (so a key dropped from the config no longer
// verifies), and valid at now.
func VerifyOffer(sites func(id string) (config.Site, bool), token string, now time.Time) (Offer, *OfferError) {
	bad := func(reason, msg string) (Offer, *OfferError) { return Offer{}, &OfferError{reason, msg} }
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 4096 || payload == "" || sig == "" || !tokenChars(token) {
		return bad(ReasonMalformed, "a token is <payload>.<signature>, both base64url")
	}
	raw, err1 := strictB64.DecodeString(payload)
	given, err2 := strictB64.DecodeString(sig)
	var o Offer
	if err1 != nil || err2 != nil || json.Unmarshal(raw, &o) != nil || o.Site == "" || o.Product == "" || o.KeyID == "" {
		return bad(ReasonMalformed, "the token does not decode to an offer")
	}
	site, ok := sites(o.Site)
	if !ok {
		return bad(ReasonUnknownSite, "the offer names a site this server does not have")
	}
	var key *config.OfferKey
	for i := range site.OfferKeys {
		if site.OfferKeys[i].ID == o.KeyID {
			key = &site.OfferKeys[i]
		}
	}
	if key == nil {
		return bad(ReasonUnknownKey, "the offer was signed with a key the site no longer (or never) had")
	}
	if !hmac.Equal(given, mac(key.Secret, payload)) {
		return bad(ReasonBadSignature, "the signature does not match: the token was altered or forged")
	}
	if now.Unix() >= o.Expires {
		return bad(ReasonExpired, "the offer expired at "+time.Unix(o.Expires, 0).UTC().Format(time.RFC3339))
	}
	if now.Unix() < o.NotBefore {
		return bad(ReasonNotYetValid, "the offer starts at "+time.Unix(o.NotBefore, 0).UTC().Format(time.RFC3339))
	}
	return o, nil
}

// tokenChars reports whether s has only base64url characters and dots:
// even a strict decoder skips line breaks, which would make more strings
// of one token.
func tokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
