package ingest

import (
	"fmt"
	"unicode/utf8"

	"github.com/google/uuid"
)

// idNamespace seeds the v5 event ids derived from clients' non-UUID
// message ids. Changing it would break deduplication of re-sent events.
var idNamespace = uuid.MustParse("6f1c7f1e-4a52-4d8e-9a36-2b7d1c9e5a10")

// eventID returns the id that deduplicates an event: the client's id when
// it is a UUID, a deterministic v5 UUID of site and id for any other
// string up to maxMsgID characters, and a random UUID when the client
// sent none. A longer id is an error: hashing it would hide a client bug.
func eventID(site, clientID string) (uuid.UUID, error) {
	if clientID == "" {
		return uuid.New(), nil
	}
	if len(clientID) >= 32 && len(clientID) <= 45 {
		if id, err := uuid.Parse(clientID); err == nil {
			if id == uuid.Nil {
				// A client sending it for every event would have all of a
				// visitor's events taken for copies of one.
				return uuid.Nil, &fieldError{"messageId", "the nil UUID names no event; send a unique id per event, or none"}
			}
			return id, nil
		}
	}
	if utf8.RuneCountInString(clientID) > maxMsgID {
		return uuid.Nil, &fieldError{"messageId", fmt.Sprintf("longer than %d characters", maxMsgID)}
	}
	return uuid.NewSHA1(idNamespace, []byte(site+"\x00"+clientID)), nil
}
