// Package mathx holds small integer helpers (a sigma-exec sample of ~50 test cases over four packages).
package mathx

import "errors"

// ErrNegative is returned for arguments that must not be negative.
var ErrNegative = errors.New("negative argument")

// Abs returns |n|.
func Abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// GCD returns the greatest common divisor of a and b.
func GCD(a, b int) int {
	a, b = Abs(a), Abs(b)
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// LCM returns the least common multiple of a and b (0 when either is 0).
func LCM(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	return Abs(a / GCD(a, b) * b)
}

// Factorial returns n! for n >= 0.
func Factorial(n int) (int, error) {
	if n < 0 {
		return 0, ErrNegative
	}
	out := 1
	for i := 2; i <= n; i++ {
		out *= i
	}
	return out, nil
}

// IsPrime tells whether n is a prime number.
func IsPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// Clamp limits n to [lo, hi].
func Clamp(n, lo, hi int) int {
	switch {
	case n < lo:
		return lo
	case n > hi:
		return hi
	default:
		return n
	}
}
