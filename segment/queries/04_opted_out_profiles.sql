-- Opted-out visitors keep a profile row that says so, and nothing else.
INSERT INTO seg_profiles (site, run_id, vh, visitor_id, opted_out, last_seen)
SELECT @site, @run, vh, visitor_id, 1, last_seen FROM seg_opted_out WHERE site = @site AND run_id = @run
