// Package inventory keeps item counts; it builds on mathx.
package inventory

import (
	"errors"
	"fmt"
	"sort"

	"example.com/large/mathx"
)

// ErrUnknown is returned for an item the inventory does not hold.
var ErrUnknown = errors.New("unknown item")

// Inventory maps item names to counts.
type Inventory struct{ counts map[string]int }

// New returns an empty inventory.
func New() *Inventory { return &Inventory{counts: map[string]int{}} }

// Add adds n of item (n may be negative, the count never goes below zero).
func (inv *Inventory) Add(item string, n int) {
	inv.counts[item] = mathx.Clamp(inv.counts[item]+n, 0, 1<<30)
}

// Take removes n of item.
func (inv *Inventory) Take(item string, n int) error {
	have, ok := inv.counts[item]
	if !ok {
		return fmt.Errorf("take %s: %w", item, ErrUnknown)
	}
	if have < n {
		return fmt.Errorf("take %d %s: only %d left", n, item, have)
	}
	inv.counts[item] = have - n
	return nil
}

// Count is how many of item are held.
func (inv *Inventory) Count(item string) int { return inv.counts[item] }

// Items lists the names held, sorted.
func (inv *Inventory) Items() []string {
	out := make([]string, 0, len(inv.counts))
	for k := range inv.counts {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Total is the number of units held.
func (inv *Inventory) Total() int {
	total := 0
	for _, n := range inv.counts {
		total += n
	}
	return total
}
