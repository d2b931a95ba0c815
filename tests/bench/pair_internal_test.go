package bench

import (
	"math"
	"testing"
)

func TestTQuantile(t *testing.T) {
	for _, tc := range []struct {
		df   int
		want float64
	}{{1, 12.706}, {10, 2.228}, {30, 2.042}, {39, 2.023}, {60, 2.000}, {120, 1.980}, {1000, 1.962}} {
		if got := tQuantile975(tc.df); math.Abs(got-tc.want) > 0.002 {
			t.Errorf("t(%d) = %.4f, want %.3f", tc.df, got, tc.want)
		}
	}
}

func TestMeanInterval(t *testing.T) {
	mean, lo, hi := meanInterval([]float64{1, 2, 3, 4, 5})
	// mean 3, sd 1.5811, se 0.7071, t(4) 2.776 → ±1.963
	if math.Abs(mean-3) > 1e-9 || math.Abs(lo-(3-1.963)) > 0.001 || math.Abs(hi-(3+1.963)) > 0.001 {
		t.Fatalf("got %v [%v, %v]", mean, lo, hi)
	}
	if _, lo, hi := meanInterval([]float64{1}); !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		t.Fatal("one sample has no interval")
	}
}
