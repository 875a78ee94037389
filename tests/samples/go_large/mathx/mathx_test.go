package mathx

import (
	"errors"
	"testing"
)

func TestAbs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want int
	}{{"positive", 4, 4}, {"negative", -4, 4}, {"zero", 0, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Abs(tc.in); got != tc.want {
				t.Errorf("Abs(%d) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestGCD(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a, b, want int
	}{{"coprime", 9, 28, 1}, {"common", 12, 18, 6}, {"negative", -12, 18, 6}, {"zero", 0, 5, 5}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := GCD(tc.a, tc.b); got != tc.want {
				t.Errorf("GCD(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestLCM(t *testing.T) {
	if got := LCM(4, 6); got != 12 {
		t.Errorf("LCM(4, 6) = %d, want 12", got)
	}
}

func TestLCMWithZero(t *testing.T) {
	if got := LCM(0, 6); got != 0 {
		t.Errorf("LCM(0, 6) = %d, want 0", got)
	}
}

func TestFactorial(t *testing.T) {
	for n, want := range []int{1, 1, 2, 6, 24, 120} {
		if got, err := Factorial(n); err != nil || got != want {
			t.Errorf("Factorial(%d) = %d, %v; want %d", n, got, err, want)
		}
	}
}

func TestFactorialOfANegativeNumber(t *testing.T) {
	if _, err := Factorial(-1); !errors.Is(err, ErrNegative) {
		t.Errorf("Factorial(-1) error = %v, want ErrNegative", err)
	}
}

func TestIsPrime(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   int
		want bool
	}{{"one", 1, false}, {"two", 2, true}, {"nine", 9, false}, {"thirteen", 13, true}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPrime(tc.in); got != tc.want {
				t.Errorf("IsPrime(%d) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestClamp(t *testing.T) {
	for _, tc := range []struct {
		name            string
		n, lo, hi, want int
	}{{"below", -5, 0, 10, 0}, {"inside", 5, 0, 10, 5}, {"above", 15, 0, 10, 10}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clamp(tc.n, tc.lo, tc.hi); got != tc.want {
				t.Errorf("Clamp(%d, %d, %d) = %d, want %d", tc.n, tc.lo, tc.hi, got, tc.want)
			}
		})
	}
}
