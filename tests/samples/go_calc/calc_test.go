package calc

import "testing"

func TestAdd(t *testing.T) {
	if got := Add(2, 3); got != 5 {
		t.Fatalf("Add(2, 3) = %d, want 5", got)
	}
}

func TestDivide(t *testing.T) {
	got, err := Divide(8, 2)
	if err != nil || got != 4 {
		t.Fatalf("Divide(8, 2) = %d, %v; want 4, nil", got, err)
	}
}

func TestSign(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   int
	}{{"positive", 3}, {"negative", -3}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sign(tc.in); got != tc.name {
				t.Errorf("Sign(%d) = %q, want %q", tc.in, got, tc.name)
			}
		})
	}
}

func TestNeedsNetwork(t *testing.T) {
	t.Skip("needs network access")
}
