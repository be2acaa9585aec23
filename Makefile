.PHONY: run test bench lint fuzz build

build:
	go build -o bin/examd ./cmd/examd

run:
	./scripts/run.sh

test:
	./scripts/test.sh

lint:
	gofmt -l . | (! grep .)
	go vet ./...

# Benchmarks behind the performance targets (numbers in the README).
bench:
	go test -run '^$$' -bench . -benchmem ./eventstore/embedded ./domain
	go test -run '^$$' -bench . -benchmem -benchtime 3s ./cmd/examload

# Fuzz each target for a while (CI runs their seed corpora as normal tests).
fuzz:
	go test -run '^$$' -fuzz FuzzDecodeJSON -fuzztime 30s ./api
	go test -run '^$$' -fuzz FuzzDecodeEvent -fuzztime 30s ./domain
	go test -run '^$$' -fuzz FuzzDecodeMessage -fuzztime 30s ./eventstore/relay
	go test -run '^$$' -fuzz FuzzParseAccess -fuzztime 30s ./auth
	go test -run '^$$' -fuzz FuzzParseScoreFile -fuzztime 30s ./api
	go test -run '^$$' -fuzz FuzzStatsApply -fuzztime 30s ./cmd/examstats
