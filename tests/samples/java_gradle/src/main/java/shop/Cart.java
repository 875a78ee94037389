package shop;

import java.util.ArrayList;
import java.util.List;

/** A shopping cart with prices in cents. */
public final class Cart {
    private final List<Integer> prices = new ArrayList<>();

    public void add(int priceCents) {
        if (priceCents < 0) {
            throw new IllegalArgumentException("negative price");
        }
        prices.add(priceCents);
    }

    public int size() {
        return prices.size();
    }

    public int total() {
        int total = 0;
        for (int i = 1; i < prices.size(); i++) { // bug: skips the first item
            total += prices.get(i);
        }
        return total;
    }
}
