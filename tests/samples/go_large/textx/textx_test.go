package textx

import "testing"

func TestReverse(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ascii", "abc", "cba"}, {"empty", "", ""}, {"unicode", "héllo", "olléh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reverse(tc.in); got != tc.want {
				t.Errorf("Reverse(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestIsPalindrome(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     bool
	}{{"word", "level", true}, {"sentence", "A man, a plan, a canal: Panama", true}, {"not", "sigma", false}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPalindrome(tc.in); got != tc.want {
				t.Errorf("IsPalindrome(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestWordCount(t *testing.T) {
	got := WordCount("the cat and the hat.")
	if got["the"] != 2 || got["hat"] != 1 || len(got) != 4 {
		t.Errorf("WordCount = %v", got)
	}
}

func TestTitle(t *testing.T) {
	if got := Title("hello big world"); got != "Hello Big World" {
		t.Errorf("Title = %q", got)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		want     string
	}{{"short", "abc", 5, "abc"}, {"cut", "abcdefgh", 6, "abc..."}, {"tiny", "abcdef", 2, "ab"}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Truncate(tc.in, tc.n); got != tc.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}
