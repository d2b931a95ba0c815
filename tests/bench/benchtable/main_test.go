package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/dbactor/dbactor/tests/bench
cpu: AMD EPYC
BenchmarkP1SelectOne-2         	   1	     10400 ns/op	 10000 ref-ns/op	 6 allocs/op	 6 ref-allocs/op	 1.04 ratio	 1.03 ratio-lo	 1.05 ratio-hi	 40 rounds
BenchmarkP1IndexedRead-2         	   1	     10100 ns/op	 10000 ref-ns/op	 6 allocs/op	 6 ref-allocs/op	 1.01 ratio	 0.99 ratio-lo	 1.03 ratio-hi	 40 rounds
BenchmarkP2ConnectDisconnect-2 	   1	     20000 ns/op	 5000 ref-ns/op	 47 allocs/op	 11 ref-allocs/op	 4 ratio	 3.9 ratio-lo	 4.1 ratio-hi	 40 rounds
BenchmarkP3ColdStart-2 	  1	  50000000 ns/op	 49000000 ref-ns/op	 1.2 ratio	 1.1 ratio-lo	 1.3 ratio-hi	 20 rounds	 17.00 pools/op
BenchmarkP4Rollback-2 	  1	  1000000 ns/op	 1020 ms-to-error	 1100 ms-to-error-max	 1050 ms-limit	 0 sessions-left	 0 goroutines-left
BenchmarkP4Rollback-2 	  1	  1000000 ns/op	 1030 ms-to-error	 1100 ms-to-error-max	 1050 ms-limit	 0 sessions-left	 1 goroutines-left
BenchmarkP5FanOut-2 	  1	  4000 ns/op	 1500 ref-ns/op	 2000000 deliveries/s	 5333333 ref-deliveries/s	 15 allocs/op	 2 ref-allocs/op	 2.5 ratio	 1.9 ratio-lo	 3.2 ratio-hi	 40 rounds
BenchmarkP6RemoteConnectDisconnect-2 	  1	  500000 ns/op	  400000 ref-ns/op	  128 allocs/op	  119 ref-allocs/op	 1.25 ratio	 1.2 ratio-lo	 1.3 ratio-hi	 40 rounds
BenchmarkSequentialColdStart-2 	  1	  900000000 ns/op	 17.00 pools/op
BenchmarkMIdleRegistry-2 	  1	  1000000 ns/op	 345678 heap-B/registry	 20334 heap-B/database
BenchmarkZExtra/dbactor-2 	  1	  100 ns/op
PASS
ok  	github.com/dbactor/dbactor/tests/bench	17.347s
`

func evalSample(t *testing.T, text string, allowMissing bool) (*report, map[string]string) {
	t.Helper()
	in, err := parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	rep := evaluate(in, allowMissing)
	byName := map[string]string{}
	for _, l := range rep.lines[2:] {
		cells := strings.Split(l, " | ")
		byName[strings.TrimPrefix(cells[0], "| ")] = l
	}
	return rep, byName
}

func TestEvaluate(t *testing.T) {
	rep, rows := evalSample(t, sample, false)
	// One goroutine left in one P4 run fails P4 although the median is 0.
	if rep.ok {
		t.Fatalf("report ok, want a failure (P4 goroutines-left)")
	}
	for name, want := range map[string][]string{
		// reference ÷ dbactor: 1/1.04 = 0.962 [1/1.05, 1/1.03]: the whole
		// interval is below 0.98.
		"P1SelectOne": {"10,400 ns/op, 6 allocs/op", "10,000 ns/op", "0.962 [0.952, 0.971]", "**FAIL**"},
		// 0.990 [0.971, 1.010]: the interval reaches 0.98.
		"P1IndexedRead":       {"0.990 [0.971, 1.010]", "| pass |"},
		"P2ConnectDisconnect": {"47 allocs/op", "11 allocs/op", "2.000 [1.950, 2.050]", "| pass |"},
		// 1.2 [1.1, 1.3]: above 1.15, but the interval reaches below it.
		"P3ColdStart": {"1.200 [1.100, 1.300]", "| pass |"},
		"P4Rollback":  {"1,025.0 ms-to-error", "goroutines-left 1", "**FAIL**"},
		// 2.5 [1.9, 3.2]: above 2, but the interval reaches below it.
		"P5FanOut":                  {"4,000 ns/op, 15 allocs/op; 2,000,000 deliveries/s", "1,500 ns/op, 2 allocs/op; 5,333,333 deliveries/s", "2.500 [1.900, 3.200]", "| pass |"},
		"P6RemoteConnectDisconnect": {"128 allocs/op", "1.250 [1.200, 1.300]", "| pass |"},
		"SequentialColdStart":       {"900,000,000 ns/op", "| — |"},
		"MIdleRegistry":             {"345,678 heap-B/registry", "| report |"},
		"ZExtra":                    {"100 ns/op", "| — | — |"},
	} {
		row, ok := rows[name]
		if !ok {
			t.Errorf("no row %s in\n%s", name, strings.Join(rep.lines, "\n"))
			continue
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("row %s = %q, want it to contain %q", name, row, w)
			}
		}
	}
}

func TestMissing(t *testing.T) {
	only := `BenchmarkP5FanOut-2 	  1	  4000 ns/op	 1500 ref-ns/op	 2.5 ratio	 1.9 ratio-lo	 3.2 ratio-hi	 40 rounds
BenchmarkP1SelectOne-2 	 1	 100 ns/op
`
	rep, rows := evalSample(t, only, false)
	if rep.ok {
		t.Fatal("report ok with P2, P3, P4 and M missing and P1 without its reference figures")
	}
	if !strings.Contains(rows["P3*"], "no benchmark") || !strings.Contains(rows["P3*"], "**FAIL**") {
		t.Errorf("P3 row = %q", rows["P3*"])
	}
	if !strings.Contains(rows["P1SelectOne"], `reports no "ref-ns/op"`) {
		t.Errorf("P1 row = %q", rows["P1SelectOne"])
	}
	rep, rows = evalSample(t, "BenchmarkP5FanOut-2 	  1	  4000 ns/op	 1500 ref-ns/op	 2.5 ratio	 1.9 ratio-lo	 3.2 ratio-hi	40 rounds\n", true)
	if !rep.ok {
		t.Errorf("-allow-missing: report failed:\n%s", strings.Join(rep.lines, "\n"))
	}
	if !strings.Contains(rows["P3*"], "not run") {
		t.Errorf("-allow-missing: P3 row = %q", rows["P3*"])
	}
}

func TestFailedBenchmark(t *testing.T) {
	text := sample + "--- FAIL: BenchmarkP2ConnectDisconnect/dbactor\nFAIL\tgithub.com/dbactor/dbactor/tests/bench\t1.0s\n"
	rep, _ := evalSample(t, text, true)
	if rep.ok || !strings.Contains(strings.Join(rep.notes, "\n"), "FAILED: BenchmarkP2ConnectDisconnect/dbactor") {
		t.Errorf("failed benchmark not reported: ok=%v notes=%q", rep.ok, rep.notes)
	}
}

func TestNumber(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.5: "1,234,568", -1234: "-1,234"} {
		if got := number(v, 0); got != want {
			t.Errorf("number(%v) = %q, want %q", v, got, want)
		}
	}
	if got := number(1234.5, 1); got != "1,234.5" {
		t.Errorf("number(1234.5, 1) = %q", got)
	}
}

// A pair whose whole interval lies beyond a maximum fails; one that
// reaches back below it passes.
func TestIntervalVerdict(t *testing.T) {
	text := `BenchmarkP6RemoteConnectDisconnect-2 	1	100 ns/op	70 ref-ns/op	1.40 ratio	1.31 ratio-lo	1.50 ratio-hi	40 rounds
BenchmarkP3LoopbackColdStart-2 	1	100 ns/op	90 ref-ns/op	1.10 ratio	1.05 ratio-lo	1.16 ratio-hi	20 rounds
BenchmarkP3ColdStart-2 	1	300 ns/op	100 ref-ns/op	3 ratio	0 ratio-lo	+Inf ratio-hi	1 rounds
BenchmarkP5FanOut-2 	1	5000 ns/op	1000 ref-ns/op	1600000 deliveries/s	8000000 ref-deliveries/s	5.0 ratio	4.2 ratio-lo	5.9 ratio-hi	40 rounds
BenchmarkP5OldFanOut-2 	20	50000000 ns/op	1600000 deliveries/s
`
	_, rows := evalSample(t, text, true)
	if row := rows["P6RemoteConnectDisconnect"]; !strings.Contains(row, "**FAIL**") {
		t.Errorf("P6 row = %q, want FAIL (1.31 > 1.3)", row)
	}
	if row := rows["P3LoopbackColdStart"]; !strings.Contains(row, "| pass |") {
		t.Errorf("P3 row = %q, want pass", row)
	}
	if row := rows["P3ColdStart"]; !strings.Contains(row, "too few to judge") || !strings.Contains(row, "**FAIL**") {
		t.Errorf("P3 row = %q, want FAIL: one round proves nothing", row)
	}
	if row := rows["P5FanOut"]; !strings.Contains(row, "**FAIL**") || !strings.Contains(row, "1,600,000 deliveries/s") {
		t.Errorf("P5 row = %q, want FAIL (4.2 > 2) with the deliveries/s", row)
	}
	// P5 before it was a pair: deliveries/s alone is no verdict.
	if row := rows["P5OldFanOut"]; !strings.Contains(row, `reports no "ref-ns/op"`) || !strings.Contains(row, "**FAIL**") {
		t.Errorf("old P5 row = %q, want FAIL for want of the reference", row)
	}
}
