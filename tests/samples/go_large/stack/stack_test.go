package stack

import "testing"

func TestPushAndPop(t *testing.T) {
	var s Stack[int]
	s.Push(1)
	s.Push(2)
	if v, ok := s.Pop(); !ok || v != 2 {
		t.Fatalf("Pop = %d, %v", v, ok)
	}
}

func TestPopOfAnEmptyStack(t *testing.T) {
	var s Stack[string]
	if _, ok := s.Pop(); ok {
		t.Fatal("Pop of an empty stack succeeded")
	}
}

func TestPeek(t *testing.T) {
	var s Stack[int]
	s.Push(7)
	if v, ok := s.Peek(); !ok || v != 7 || s.Len() != 1 {
		t.Fatalf("Peek = %d, %v (len %d)", v, ok, s.Len())
	}
}

func TestPeekOfAnEmptyStack(t *testing.T) {
	var s Stack[int]
	if _, ok := s.Peek(); ok {
		t.Fatal("Peek of an empty stack succeeded")
	}
}

func TestLen(t *testing.T) {
	var s Stack[int]
	for i := 0; i < 5; i++ {
		s.Push(i)
	}
	if s.Len() != 5 {
		t.Fatalf("Len = %d", s.Len())
	}
}

func TestBalanced(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     bool
	}{
		{"empty", "", true}, {"simple", "()", true}, {"nested", "{[()]}", true},
		{"crossed", "([)]", false}, {"open", "((", false}, {"close", "())", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Balanced(tc.in); got != tc.want {
				t.Errorf("Balanced(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
