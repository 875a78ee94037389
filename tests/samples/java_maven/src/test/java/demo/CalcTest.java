package demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

class CalcTest {
    @Test
    void addsTwoNumbers() {
        assertEquals(5, Calc.add(2, 3));
    }

    @Test
    void dividesTwoNumbers() {
        assertEquals(4, Calc.divide(8, 2));
    }

    @Test
    void knowsPositiveNumbers() {
        assertEquals("positive", Calc.sign(3));
    }

    @Test
    void knowsNegativeNumbers() {
        assertEquals("negative", Calc.sign(-3));
    }

    @Test
    @Disabled("needs a network service")
    void talksToTheNetwork() {
        throw new AssertionError("never runs");
    }
}
