# remarket — see README.md. Every target installs what it needs.
GO      ?= go
BIN     := bin/remarket
CONFIG  ?= remarket.yaml
# Packages whose concurrency matters run under the race detector. Their
# tests on 18.16 run there only: the race detector costs little beside
# the server's work, and running them twice cost a tenth of the CI time.
RACE_DIRS := segment ingest ingest/spool feeds
RACE_PKGS := $(addprefix ./,$(addsuffix /,$(RACE_DIRS)))
# The packages whose tests take longest besides segment (split in two,
# below), named first so that go test starts them first: started last,
# one of them ran alone for minutes.
SLOW_PKGS := ./internal/clustercheck/ ./internal/crosscheck/ ./cmd/remarket/
# The suite runs twice: on Debian's clickhouse-server 18.16, and on
# ClickHouse 26 from the chDB library (internal/tools/chdbserver).
# internal/crosscheck starts both itself and compares their results;
# internal/clustercheck starts ZooKeeper and a 2×2 cluster of 18.16 (the
# chDB engine has no replication).
MODULE = $(shell $(GO) list -m)
ALL_PKGS = $(shell $(GO) list ./...)
SERVER_PKGS = $(filter-out $(addprefix $(MODULE)/,$(RACE_DIRS)),$(ALL_PKGS))
CURRENT_PKGS = $(filter-out $(addprefix $(MODULE)/,segment internal/crosscheck internal/clustercheck),$(ALL_PKGS))
.PHONY: run demo build test test-server test-race test-race-long test-race-rest test-current test-current-long test-current-rest test-current-others lint deps clickhouse bench-ingest bench-segments bench-feeds bench-history bench-related clean

## run: start everything locally (a private ClickHouse under ./data, migrations, server)
run: clickhouse build
	@test -f $(CONFIG) || ./$(BIN) init --config $(CONFIG)
	./$(BIN) --config $(CONFIG) --local-clickhouse serve

## demo: the whole product here: demo shop, 60 days of visitors, audiences, feeds, dashboard
demo: clickhouse build
	./$(BIN) --config $(CONFIG) demo

build:
	$(GO) build -o $(BIN) ./cmd/remarket

clickhouse:
	@scripts/install-clickhouse.sh

deps:
	@scripts/install-test-deps.sh

## test: every test (lint, unit and integration against ClickHouse 18.16 and 26, race, browser)
test: deps lint
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-server test-race-long test-race-rest
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-current-long test-current-rest test-current-others

# Each suite keeps both cores busy only with several packages running:
# a package's tests run one after another, using about one core, and
# the segment package alone ran for minutes after everything else had
# ended. So its tests run in two halves side by side, its incremental-run
# comparisons (SEGMENT_LONG, about half its time) and the rest, and the
# 18.16 suite runs beside the race suite, then the 26.7 suite alone. A
# test named in neither half still runs, in the rest.
SEGMENT_LONG := ^Test(Incremental|AMonth|AnotherShop|OnlyTheSites)

# 18.16: the packages the race suite does not run.
test-server:
	$(GO) test -count=1 -timeout 25m $(SLOW_PKGS) $(SERVER_PKGS)

# 18.16 under the race detector.
test-race: test-race-long test-race-rest
test-race-long:
	$(GO) test -count=1 -race -timeout 25m -run '$(SEGMENT_LONG)' ./segment/
test-race-rest:
	$(GO) test -count=1 -race -timeout 25m -skip '$(SEGMENT_LONG)' ./segment/
	$(GO) test -count=1 -race -timeout 25m $(filter-out ./segment/,$(RACE_PKGS))

# 26.7 (chDB).
test-current: test-current-long test-current-rest test-current-others
test-current-long:
	REMARKET_TEST_ENGINE=chdb $(GO) test -count=1 -timeout 25m -run '$(SEGMENT_LONG)' ./segment/
test-current-rest:
	REMARKET_TEST_ENGINE=chdb $(GO) test -count=1 -timeout 25m -skip '$(SEGMENT_LONG)' ./segment/
test-current-others:
	REMARKET_TEST_ENGINE=chdb $(GO) test -count=1 -timeout 25m ./cmd/remarket/ $(CURRENT_PKGS)

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## bench-ingest: pixel throughput and latency, full path vs a bare gin handler
bench-ingest: clickhouse
	$(GO) run ./internal/tools/benchingest

## bench-catalog: catalog parse and import throughput (rows/s) against a private ClickHouse
.PHONY: bench-catalog
bench-catalog: clickhouse
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/catalog/

## bench-feeds: feed generation MB/s and items/s per format, live heap vs item count, cached google.xml p50/p99 under 32 clients
bench-feeds: clickhouse
	$(GO) test ./feeds/ -run '^$$' -bench 'Generate$$' -benchtime 10x -count 1 -timeout 20m
	$(GO) test ./feeds/ -run '^$$' -bench 'GenerateMemory' -benchtime 2x -count 1 -timeout 20m
	$(GO) test ./feeds/ -run '^$$' -bench 'Serve' -benchtime 1x -count 1 -timeout 20m -v

## bench-history: reads of the run history with years of runs (BENCH_HISTORY_SITES sites, default 10):
## a feed's run lookups, the scheduler's check, cleanup's list, a lift report, a run's member joins, the dashboard's size history, a run's check for months of events dropped (BENCH_HISTORY_EVENTS)
.PHONY: bench-history
bench-history: clickhouse
	$(GO) test ./feeds/ -run '^$$' -bench 'RunLookupsWithYearsOfRuns' -benchtime 1x -count 1 -timeout 20m -v
	$(GO) test ./segment/ -run '^$$' -bench 'RunHistoryReadsWithYearsOfRuns|MemberJoinsWithYearsOfJoins|EventMonthsWithYearsOfEvents' -benchtime 1x -count 1 -timeout 20m -v
	$(GO) test ./dashboard/ -run '^$$' -bench 'SizeHistoryWithYearsOfRuns' -benchtime 1x -count 1 -timeout 20m -v

clean:
	rm -rf bin data

## bench-cluster: ingest throughput and a full segment run on a 2×2 cluster (ZooKeeper, four
## clickhouse-server) vs one node, same events, same machine; medians of 3.
## BENCH_CLUSTER_EVENTS (50000) and BENCH_CLUSTER_VISITORS (1000) size it.
.PHONY: bench-cluster
bench-cluster: clickhouse
	@scripts/install-zookeeper.sh
	$(GO) test ./internal/clustercheck/ -run '^$$' -bench ClusterVsOneNode -benchtime 1x -count 1 -timeout 60m -v

## bench-segments: synthetic shop (20k products, 1M visitors, 10M events) generated in ClickHouse;
## full segment run vs a plain GROUP BY scan. BENCH_SEGMENTS_SCALE=0.05 for a quick try,
## BENCH_SEGMENTS_EVAL=1 to add remarket eval on the same shop, BENCH_SEGMENTS_SIZES=0.02,0.05 for other increments.
bench-segments: clickhouse
	BENCH_SEGMENTS_SCALE=$${BENCH_SEGMENTS_SCALE:-1} $(GO) test ./segment/ -run '^$$' -bench BenchmarkSegmentRun -benchtime 1x -count 1 -timeout 60m -v

## bench-related: real sessions (../shared/data/yoochoose-100k) sent through the collect API, a segment run,
## and the validation sessions' next items against the related products, item-kNN and most-popular.
bench-related: clickhouse
	$(GO) run ./internal/tools/benchrelated
