package shop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

class CartTest {
    @Test
    void startsEmpty() {
        assertEquals(0, new Cart().total());
    }

    @Test
    void rejectsNegativePrices() {
        assertThrows(IllegalArgumentException.class, () -> new Cart().add(-1));
    }

    @Test
    void sumsEveryItem() {
        Cart cart = new Cart();
        cart.add(250);
        cart.add(100);
        assertEquals(350, cart.total());
    }

    @Test
    @Disabled("pricing service not available offline")
    void appliesLiveDiscounts() {
        throw new AssertionError("never runs");
    }
}
