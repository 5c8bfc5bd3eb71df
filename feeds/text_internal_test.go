package feeds

import (
	"bytes"
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/remarket/remarket/internal/config"
)

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                    "plain",
		"  padded\t\r\n text  ":    "padded text",
		"nul\x00 and bell\x07":     "nul and bell",
		"bad \xff\xfe utf8":        "bad utf8",
		"emoji 📷 stays":            "emoji 📷 stays",
		"c1 \u0085 \u009f control": "c1 control",
		"nonchar \uffff \ufffe":    "nonchar",
		"line\u2028sep":            "line sep",
	} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncateOnWordBoundary(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly ten", 11, "exactly ten"},
		{"the quick brown fox jumps", 15, "the quick…"},
		{"Supercalifragilistic", 10, "Supercali…"}, // no space in the second half: cut mid-word
		{"ünïcödé wörds àrë cöüntéd", 12, "ünïcödé…"},
		{"word, another", 7, "word…"},
	}
	for _, c := range cases {
		got := truncate(c.in, c.max)
		if got != c.want || utf8.RuneCountInString(got) > c.max {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

// TestTruncateKeepsGraphemeClusters: a cut falls between grapheme
// clusters, so no flag is halved and no letter loses its marks, and the
// text still fits the limit in characters.
func TestTruncateKeepsGraphemeClusters(t *testing.T) {
	const (
		de     = "🇩🇪"              // two regional indicators
		e      = "e\u0301\u0323"   // e with two combining marks
		family = "👨\u200d👩\u200d👧" // a ZWJ sequence of five characters
	)
	zalgo := "a" + strings.Repeat("\u0301", 20) + "b"
	cases := []struct {
		name, in string
		max      int
		want     string
	}{
		{"flags", de + "🇫🇷🇮🇹", 4, de + "…"},
		{"combining marks", e + e + e, 6, e + "…"},
		{"ZWJ sequence", family + family, 8, family + "…"},
		{"ZWJ sequence after a word", "Gift " + family + family, 12, "Gift " + family + "…"},
		{"a title of flags", strings.Repeat(de, 100), maxTitle, strings.Repeat(de, 74) + "…"},
		{"a title of marked letters", strings.Repeat(e, 60), maxTitle, strings.Repeat(e, 49) + "…"},
		{"one cluster longer than the limit", zalgo, 10, zalgo[:1+8*2] + "…"},
	}
	for _, c := range cases {
		got := truncate(c.in, c.max)
		if got != c.want || utf8.RuneCountInString(got) > c.max {
			t.Errorf("%s: truncate(%+q, %d) = %+q, want %+q", c.name, c.in, c.max, got, c.want)
		}
	}
}

func TestStripHTML(t *testing.T) {
	for in, want := range map[string]string{
		"<p>Hello <b>world</b></p>":  " Hello  world  ",
		"5 < 6 & 7 > 3":              "5 < 6 & 7 > 3",
		"Tom &amp; Jerry&#39;s":      "Tom & Jerry's",
		"<!-- c -->x<br/>y":          " x y",
		"<script>alert(1)</script>z": " alert(1) z",
	} {
		if got := stripHTML(in); got != want {
			t.Errorf("stripHTML(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeLink(t *testing.T) {
	ok := map[string]string{
		"https://shop.example/a?b=c#d":      "https://shop.example/a?b=c#d",
		"HTTP://shop.example/a b":           "http://shop.example/a%20b",
		"https://bücher.example/größe?q=ü":  "https://xn--bcher-kva.example/gr%C3%B6%C3%9Fe?q=%C3%BC",
		"https://shop.example/already%20ok": "https://shop.example/already%20ok",
	}
	for in, want := range ok {
		if got, err := normalizeLink(in); err != nil || got != want {
			t.Errorf("normalizeLink(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/relative", "ftp://x.example/f", "javascript:alert(1)", "https://", "https://x.example/\x00",
		"https://user:pw@x.example/", "https://x.example/" + strings.Repeat("a", 2000), "mailto:a@b.example"} {
		if got, err := normalizeLink(bad); err == nil {
			t.Errorf("normalizeLink(%q) accepted: %q", bad, got)
		}
	}
}

// TestNormalizeLinkIsRFC3986: Google takes only RFC 3986 compliant links,
// so ASCII characters RFC 3986 does not allow and a '%' that starts no
// escape are percent-encoded; existing escapes stay as the shop wrote them.
func TestNormalizeLinkIsRFC3986(t *testing.T) {
	ok := map[string]string{
		"https://shop.example/p?colour=red|blue":      "https://shop.example/p?colour=red%7Cblue",
		"https://shop.example/p?q={sku}":              "https://shop.example/p?q=%7Bsku%7D",
		`https://shop.example/a\b`:                    "https://shop.example/a%5Cb",
		"https://shop.example/p?x=a^b`c":              "https://shop.example/p?x=a%5Eb%60c",
		"https://shop.example/p?discount=50%":         "https://shop.example/p?discount=50%25",
		"https://shop.example/%zz/p?q=%4":             "https://shop.example/%25zz/p?q=%254",
		"https://shop.example/p#top#more":             "https://shop.example/p#top%23more",
		"https://bücher.example/p?colour=red|blue":    "https://xn--bcher-kva.example/p?colour=red%7Cblue",
		"https://shop.example/100%25-cotton?q=%e2%82": "https://shop.example/100%25-cotton?q=%e2%82",
		"https://shop.example/p(1)?a=b&c=d;e!*'+,@:$": "https://shop.example/p(1)?a=b&c=d;e!*'+,@:$",
		"https://shop.example/p?size[]=m&size[]=l":    "https://shop.example/p?size%5B%5D=m&size%5B%5D=l",
		"https://shop.example/[sale]/p#[top]":         "https://shop.example/%5Bsale%5D/p#%5Btop%5D",
		"https://[2001:db8::1]:8443/p?a[0]=1":         "https://[2001:db8::1]:8443/p?a%5B0%5D=1",
		"https://[2001:db8::1]/p":                     "https://[2001:db8::1]/p",
	}
	for in, want := range ok {
		if got, err := normalizeLink(in); err != nil || got != want {
			t.Errorf("normalizeLink(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// A host cannot hold an escape of an ASCII character.
	if got, err := normalizeLink("https://sh|op.example/p"); err == nil {
		t.Errorf("a host with '|' accepted as %q", got)
	}
}

func TestLandingReplacesTrackingParams(t *testing.T) {
	got := landing("https://x.example/p?utm_source=old&keep=1&rm_offer=stale#frag",
		[][2]string{{"utm_source", "google"}, {"utm_medium", "remarketing"}, {"utm_campaign", "cart"}, {"rm_offer", "a.b"}})
	want := "https://x.example/p?keep=1&utm_source=google&utm_medium=remarketing&utm_campaign=cart&rm_offer=a.b#frag"
	if got != want {
		t.Fatalf("landing = %q, want %q", got, want)
	}
}

func TestMoney(t *testing.T) {
	cases := []struct {
		price float64
		cur   string
		want  string
	}{
		{1234.5, "USD", "1234.50 USD"},
		{0.1 + 0.2, "EUR", "0.30 EUR"},
		{1.005, "USD", "1.01 USD"},
		{1500, "JPY", "1500 JPY"},
		{1499.6, "JPY", "1500 JPY"},
		{12.3456, "KWD", "12.35 KWD"},
		{15, "USD", "15.00 USD"},
	}
	for _, c := range cases {
		m, ok := moneyOf(c.price, c.cur)
		if !ok || m.String() != c.want {
			t.Errorf("moneyOf(%v, %s) = %q, %v; want %q", c.price, c.cur, m, ok, c.want)
		}
	}
	for _, bad := range []float64{0, -1, 0.001} {
		if m, ok := moneyOf(bad, "USD"); ok {
			t.Errorf("moneyOf(%v) accepted: %v", bad, m)
		}
	}
}

// FuzzCleanText: whatever a catalog holds, the result is valid UTF-8 XML
// text within the limit, and survives an XML round trip unchanged.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"Tom & Jerry", "a\x00b", "\xff", "📷 <b>", strings.Repeat("word ", 40), "\u2028\uffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := fitText(s, maxLabel)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > maxLabel {
			t.Fatalf("fitText(%q) = %q", s, got)
		}
		var buf bytes.Buffer
		buf.WriteString("<x>")
		xml.EscapeText(&buf, []byte(got))
		buf.WriteString("</x>")
		var back string
		if err := xml.Unmarshal(buf.Bytes(), &back); err != nil || back != got {
			t.Fatalf("round trip of %q: %q, %v", got, back, err)
		}
	})
}

// FuzzNormalizeLink: an accepted link is absolute http(s), RFC 3986
// compliant, within 2000 bytes, and parses.
func FuzzNormalizeLink(f *testing.F) {
	for _, s := range []string{"https://bücher.example/ü?q=ä#f", "http://x/ y", "https://%zz/", "javascript:x", "https://[::1]:80/p",
		"https://x.example/p?a=b|c{d}%#e#f", "https://bücher.example/a\\b^`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := normalizeLink(s)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(got) > maxLink || !compliantURI(got) {
			t.Fatalf("normalizeLink(%q) = %q (%v)", s, got, perr)
		}
	})
}

// compliantURI is RFC 3986's character rules written out again, so the
// fuzz target does not trust the code it checks.
func compliantURI(s string) bool {
	const allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;="
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !strings.ContainsRune("0123456789ABCDEFabcdef", rune(s[i+1])) || !strings.ContainsRune("0123456789ABCDEFabcdef", rune(s[i+2])) {
				return false
			}
			continue
		}
		if !strings.ContainsRune(allowed, rune(s[i])) {
			return false
		}
	}
	return strings.Count(s, "#") <= 1
}

// FuzzVerifyOffer: no token crashes the verifier or verifies without the key.
func FuzzVerifyOffer(f *testing.F) {
	f.Add("eyJrIjoiazEifQ.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		sites := func(string) (config.Site, bool) { return config.Site{ID: "s"}, true }
		if _, err := VerifyOffer(sites, token, time.Now()); err == nil {
			t.Fatalf("verified %q with no keys", token)
		}
	})
}
