package feeds

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/httpx"
)

// Member is one exported audience member.
type Member struct {
	VisitorID   string `json:"visitor_id"`
	UserID      string `json:"user_id,omitempty"`
	EmailSHA256 string `json:"email_sha256,omitempty"`
}

// membersQuery lists an audience's members of the current run without
// opted-out visitors: the segment engine already leaves them out, and the
// export checks again against the events, so an opt-out recorded after
// the run is honoured too. Opt-out follows the person: a visitor is left
// out when it opted out, or when its user id, or a user id it was seen
// with, did on any device (an opted-out event carrying that user id, or
// an opted-out browser seen with it). A flag is the same in every copy of
// an event, so the person's links are read from events without FINAL.
// The holdout group never leaves remarket: it is the audience's control
// group, so it is never exported.
// Every subquery is GLOBAL: on a cluster events is a Distributed table,
// and a shard would look for a subquery's table in its default database
// (or refuse a Distributed table in a subquery of one); GLOBAL reads each
// set once, where the query arrives. On one node GLOBAL IN is IN.
const membersQuery = `SELECT visitor_id, user_id, email_sha256, opted_out
FROM (
    SELECT visitor_id, user_id, email_sha256, opted_out
    FROM v_audience_members_by_run
    WHERE site = @site AND audience = @audience AND run_id = @run AND opted_out = 0 AND grp != 'holdout'
      AND visitor_id GLOBAL NOT IN (SELECT visitor_id FROM v_events WHERE site = @site AND opted_out = 1)
)
WHERE user_id GLOBAL NOT IN (` + optedOutUsers + `)
  AND visitor_id GLOBAL NOT IN (SELECT visitor_id FROM events WHERE site = @site AND user_id GLOBAL IN (` + optedOutUsers + `))
ORDER BY visitor_id`

// optedOutUsers are the user ids with an opted-out event, or seen with a
// browser that has one.
const optedOutUsers = `SELECT user_id FROM events WHERE site = @site AND user_id != '' AND (opted_out = 1
    OR visitor_id GLOBAL IN (SELECT visitor_id FROM events WHERE site = @site AND opted_out = 1 AND visitor_id != ''))`

// exportMembers answers GET /api/sites/:site/audiences/:audience/members
// (?format=csv, the default, or jsonl), streamed row by row.
func (a *API) exportMembers(c *gin.Context) {
	site := httpx.CurrentSite(c)
	audience := c.Param("audience")
	format := c.DefaultQuery("format", "csv")
	if format != "csv" && format != "jsonl" {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "format: want csv or jsonl"))
		return
	}
	ctx := c.Request.Context()
	if !validAudience.MatchString(audience) {
		httpx.Fail(c, httpx.Errorf(httpx.NotFound, "no such audience"))
		return
	}
	run, err := currentRun(ctx, a.db, site.ID)
	if errors.Is(err, errNoRun) {
		httpx.Fail(c, httpx.Errorf(httpx.Unavailable, "no complete segment run yet for this site"))
		return
	}
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	ok, err := audienceInRun(ctx, a.db, site.ID, audience, run.ID)
	if err != nil {
		httpx.Fail(c, err) // ClickHouse failed: a logged 500, not a 404
		return
	}
	if !ok {
		httpx.Fail(c, httpx.Errorf(httpx.NotFound, "no audience "+audience+" in the current segment run"))
		return
	}
	rows, err := a.db.Query(ctx, membersQuery, clickhouse.Named("site", site.ID), clickhouse.Named("audience", audience), clickhouse.Named("run", run.ID))
	if err != nil {
		httpx.Fail(c, fmt.Errorf("cannot query members: %w", err))
		return
	}
	defer rows.Close()

	w := c.Writer
	name := site.ID + "-" + audience + "-members"
	var write func(Member) error
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		cw := csv.NewWriter(w)
		cw.UseCRLF = true
		cw.Write([]string{"visitor_id", "user_id", "email_sha256"})
		write = func(m Member) error {
			return cw.Write([]string{csvCell(m.VisitorID), csvCell(m.UserID), csvCell(m.EmailSHA256)})
		}
		defer cw.Flush()
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.jsonl"`)
		enc := json.NewEncoder(w)
		write = func(m Member) error { return enc.Encode(m) }
	}
	w.Header().Set("X-Segment-Run", run.ID)
	w.WriteHeader(http.StatusOK)
	for rows.Next() {
		var m Member
		var optedOut uint8
		if err := rows.Scan(&m.VisitorID, &m.UserID, &m.EmailSHA256, &optedOut); err != nil {
			a.log.Error("members export broke off", "site", site.ID, "audience", audience, "err", err)
			return
		}
		if optedOut != 0 || m.VisitorID == "" {
			continue // defensive: the query already excludes them
		}
		if err := write(m); err != nil {
			return // client went away
		}
	}
	if err := rows.Err(); err != nil {
		// Headers are sent: the truncated body is all we can signal.
		a.log.Error("members export broke off", "site", site.ID, "audience", audience, "err", err)
	}
}
