package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// RepeatedKey returns the path of the first key that an object of the
// JSON document b holds twice ("include[1].since"), or "". encoding/json
// keeps the last of two without a word, and matches struct field names
// case-insensitively, so keys match case-insensitively too, except in
// the objects whose path exact reports (maps, whose keys differ by case).
// Call it on a document that decoded: it is well formed and as shallow
// as the type it decoded into.
func RepeatedKey(b []byte, exact func(path string) bool) string {
	return repeatedKey(json.NewDecoder(bytes.NewReader(b)), "", exact)
}

func repeatedKey(dec *json.Decoder, path string, exact func(string) bool) string {
	tok, err := dec.Token()
	if err != nil {
		return ""
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			k, ok := t.(string)
			if err != nil || !ok {
				return ""
			}
			at := k
			if path != "" {
				at = path + "." + k
			}
			if exact == nil || !exact(path) {
				k = strings.ToLower(k)
			}
			if seen[k] {
				return at
			}
			seen[k] = true
			if f := repeatedKey(dec, at, exact); f != "" {
				return f
			}
		}
		dec.Token() // '}'
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if f := repeatedKey(dec, fmt.Sprintf("%s[%d]", path, i), exact); f != "" {
				return f
			}
		}
		dec.Token() // ']'
	}
	return ""
}
