package ingest

import (
	"fmt"
	"math"
	"time"
)

// clientTimes are the clocks a client reports for one event: when it
// happened and when it was sent, both by the client's (possibly wrong)
// clock. Zero means not sent.
type clientTimes struct {
	Original time.Time // timestamp / originalTimestamp, pixel ts
	Sent     time.Time // sentAt, pixel st
}

// eventTime corrects the client's clock skew the way Segment does:
// timestamp = receivedAt − (sentAt − originalTimestamp). Without sentAt the
// client's time is taken as is; without any time the event happened when
// received. The result must lie in [received−maxPast, received+maxFuture];
// outside it the error names the field (the JSON API answers 400, the
// pixel falls back to the received time).
func eventTime(ct clientTimes, received time.Time, maxPast, maxFuture time.Duration) (time.Time, error) {
	t := received
	switch {
	case !ct.Original.IsZero() && !ct.Sent.IsZero():
		t = received.Add(-ct.Sent.Sub(ct.Original))
	case !ct.Original.IsZero():
		t = ct.Original
	}
	if t.Before(received.Add(-maxPast)) {
		return received, &fieldError{"timestamp", fmt.Sprintf("%s is more than %s before the time received", t.UTC().Format(time.RFC3339), maxPast)}
	}
	if t.After(received.Add(maxFuture)) {
		return received, &fieldError{"timestamp", fmt.Sprintf("%s is more than %s after the time received", t.UTC().Format(time.RFC3339), maxFuture)}
	}
	if t.Unix() < 0 || t.Unix() > math.MaxUint32 {
		// Only with a window of decades (ingest.max_past, max_future):
		// event_time is a DateTime, which would wrap such a time round.
		return received, &fieldError{"timestamp", fmt.Sprintf("%s is outside the times stored (1970 to 2106)", t.UTC().Format(time.RFC3339))}
	}
	return t.UTC(), nil
}

// parseTimestamp reads an ISO 8601 / RFC 3339 timestamp as SDKs send it.
func parseTimestamp(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &fieldError{field, fmt.Sprintf("bad timestamp %q, want ISO 8601 such as 2024-05-01T12:00:00.000Z", truncate(cleanText(s, 60), 60))}
}
