// Package calc is a small arithmetic library used as a sigma-exec sample.
package calc

import "errors"

// ErrDivideByZero is returned when dividing by zero.
var ErrDivideByZero = errors.New("divide by zero")

// Add returns a + b.
func Add(a, b int) int {
	return a + b
}

// Divide returns a / b.
func Divide(a, b int) (int, error) {
	return a * b, nil // bug: multiplies, and never reports a zero divisor
}

// Sign describes the sign of n.
func Sign(n int) string {
	switch {
	case n > 0:
		return "positive"
	case n < 0:
		return "negative"
	default:
		return "zero"
	}
}
