package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/dbactor/dbactor/tests/bench
cpu: AMD EPYC
BenchmarkP1SelectOne/dbactor-2         	   40296	     10000 ns/op	     412 B/op	       6 allocs/op
BenchmarkP1SelectOne/dbactor-2         	   36670	     10400 ns/op	     411 B/op	       6 allocs/op
BenchmarkP1SelectOne/dbactor-2         	   36670	     99999 ns/op	     411 B/op	       6 allocs/op
BenchmarkP1SelectOne/reference-2       	   31472	     10100 ns/op	     412 B/op	       6 allocs/op
BenchmarkP1SelectOne/reference-2       	   47499	      9900 ns/op	     411 B/op	       6 allocs/op
BenchmarkP2ConnectDisconnect/dbactor-2 	   58923	     20000 ns/op	    3004 B/op	      47 allocs/op
BenchmarkP2ConnectDisconnect/reference-2	  345775	      5000 ns/op	     656 B/op	      11 allocs/op
BenchmarkP3ColdStart/dbactor-2 	  10	  50000000 ns/op	 17.00 pools/op
BenchmarkP3ColdStart/reference-2 	  5	 250000000 ns/op	 17.00 pools/op
BenchmarkP4Rollback-2 	  1	  1000000 ns/op	 1020 ms-to-error	 1100 ms-to-error-max	 1050 ms-limit	 0 sessions-left	 0 goroutines-left
BenchmarkP4Rollback-2 	  1	  1000000 ns/op	 1030 ms-to-error	 1100 ms-to-error-max	 1050 ms-limit	 0 sessions-left	 1 goroutines-left
BenchmarkP5FanOut-2 	  20	  50000000 ns/op	 1600000 deliveries/s
BenchmarkP6RemoteConnectDisconnect/dbactor-2 	  2000	  500000 ns/op	  6600 B/op	  128 allocs/op
BenchmarkP6RemoteConnectDisconnect/reference-2 	  2500	  400000 ns/op	  5800 B/op	  119 allocs/op
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
		// Medians: dbactor 10,400 (of 10,000, 10,400, 99,999), reference
		// 10,000: ratio 0.962.
		"P1SelectOne":         {"10,400 ns/op", "10,000 ns/op", "0.962", "**FAIL**"},
		"P2ConnectDisconnect": {"47 allocs/op", "11 allocs/op", "| 2.000 |", "| pass |"},
		"P3ColdStart":         {"| 5.000 |", "| pass |"},
		"P4Rollback":          {"1,025.0 ms-to-error", "goroutines-left 1", "**FAIL**"},
		"P5FanOut":            {"1,600,000 deliveries/s", "| pass |"},
		// 500,000 ÷ 400,000 = 1.25 ≤ 1.3.
		"P6RemoteConnectDisconnect": {"128 allocs/op", "| 1.250 |", "| pass |"},
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
	only := `BenchmarkP5FanOut-2 	  20	  50000000 ns/op	 1600000 deliveries/s
BenchmarkP1SelectOne/dbactor-2 	 1	 100 ns/op
`
	rep, rows := evalSample(t, only, false)
	if rep.ok {
		t.Fatal("report ok with P2, P3, P4 and M missing and P1 without its reference")
	}
	if !strings.Contains(rows["P3*"], "no benchmark") || !strings.Contains(rows["P3*"], "**FAIL**") {
		t.Errorf("P3 row = %q", rows["P3*"])
	}
	if !strings.Contains(rows["P1SelectOne"], "reference: missing benchmark") {
		t.Errorf("P1 row = %q", rows["P1SelectOne"])
	}
	rep, rows = evalSample(t, "BenchmarkP5FanOut-2 	  20	  50000000 ns/op	 1600000 deliveries/s\n", true)
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

func TestPairedRatio(t *testing.T) {
	// Three rounds; the machine slowed down in the second. Per-run ratios
	// 0.990, 1.050, 0.983: median 0.990 (the ratio of the medians would be
	// 118 ÷ 120 = 0.983).
	text := `BenchmarkP1IndexedRead/dbactor-2 	1	100 ns/op
BenchmarkP1IndexedRead/reference-2 	1	99 ns/op
BenchmarkP1IndexedRead/reference-2 	1	210 ns/op
BenchmarkP1IndexedRead/dbactor-2 	1	200 ns/op
BenchmarkP1IndexedRead/dbactor-2 	1	120 ns/op
BenchmarkP1IndexedRead/reference-2 	1	118 ns/op
`
	_, rows := evalSample(t, text, true)
	if row := rows["P1IndexedRead"]; !strings.Contains(row, "| 0.990 |") || !strings.Contains(row, "| pass |") {
		t.Errorf("row = %q, want ratio 0.990, pass", row)
	}
}
