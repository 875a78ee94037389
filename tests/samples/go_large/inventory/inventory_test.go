package inventory

import (
	"errors"
	"reflect"
	"testing"
)

func TestAddAndCount(t *testing.T) {
	inv := New()
	inv.Add("apple", 3)
	inv.Add("apple", 2)
	if got := inv.Count("apple"); got != 5 {
		t.Fatalf("Count = %d", got)
	}
}

func TestAddNeverGoesBelowZero(t *testing.T) {
	inv := New()
	inv.Add("pear", -4)
	if got := inv.Count("pear"); got != 0 {
		t.Fatalf("Count = %d", got)
	}
}

func TestTake(t *testing.T) {
	inv := New()
	inv.Add("plum", 4)
	if err := inv.Take("plum", 3); err != nil || inv.Count("plum") != 1 {
		t.Fatalf("Take: %v, count %d", err, inv.Count("plum"))
	}
}

func TestTakeTooMany(t *testing.T) {
	inv := New()
	inv.Add("plum", 1)
	if err := inv.Take("plum", 2); err == nil {
		t.Fatal("Take of more than held succeeded")
	}
}

func TestTakeUnknown(t *testing.T) {
	if err := New().Take("kiwi", 1); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Take error = %v", err)
	}
}

func TestItems(t *testing.T) {
	inv := New()
	for _, item := range []string{"b", "c", "a"} {
		inv.Add(item, 1)
	}
	if got := inv.Items(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("Items = %v", got)
	}
}

func TestTotal(t *testing.T) {
	inv := New()
	inv.Add("a", 2)
	inv.Add("b", 3)
	if got := inv.Total(); got != 5 {
		t.Fatalf("Total = %d", got)
	}
}

func TestTotalOfAnEmptyInventory(t *testing.T) {
	if got := New().Total(); got != 0 {
		t.Fatalf("Total = %d", got)
	}
}
