package ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class MoneyTest {
    private static final Money TEN = Money.of(1000, "EUR");

    @Test
    void addsAmountsOfOneCurrency() {
        assertEquals(Money.of(1250, "EUR"), TEN.plus(Money.of(250, "EUR")));
    }

    @Test
    void subtractsBelowZero() {
        assertEquals(Money.of(-500, "EUR"), TEN.minus(Money.of(1500, "EUR")));
    }

    @Test
    void multipliesByAFactor() {
        assertEquals(Money.of(3000, "EUR"), TEN.times(3));
    }

    @Test
    void refusesToMixCurrencies() {
        assertThrows(IllegalArgumentException.class, () -> TEN.plus(Money.of(1, "USD")));
    }

    @Test
    void refusesAnInvalidCurrencyCode() {
        assertThrows(IllegalArgumentException.class, () -> Money.of(1, "euro"));
    }

    @Test
    void overflowIsAnError() {
        assertThrows(ArithmeticException.class, () -> Money.of(Long.MAX_VALUE, "EUR").plus(Money.of(1, "EUR")));
    }

    @ParameterizedTest
    @CsvSource({"12.34 EUR, 1234", "-0.50 USD, -50", "7 GBP, 700", "0.05 EUR, 5"})
    void parsesAmounts(String text, long cents) {
        assertEquals(cents, Money.parse(text).cents());
    }

    @ParameterizedTest
    @ValueSource(strings = {"12.3 EUR", "EUR", "1.234 EUR", ".50 EUR"})
    void rejectsMalformedAmounts(String text) {
        assertThrows(IllegalArgumentException.class, () -> Money.parse(text));
    }

    @Test
    void formatsWithTwoDecimals() {
        assertEquals("-3.07 EUR", Money.of(-307, "EUR").toString());
    }

    @Test
    void comparesWithinACurrency() {
        assertTrue(TEN.compareTo(Money.of(999, "EUR")) > 0);
        assertFalse(TEN.isNegative());
    }

    @Test
    void allocatesTheRemainderToTheFirstShares() {
        Money[] shares = Money.of(1000, "EUR").allocate(3);
        assertArrayEquals(new Money[] {Money.of(334, "EUR"), Money.of(333, "EUR"), Money.of(333, "EUR")}, shares);
    }

    @Test
    void refusesToAllocateIntoNoShares() {
        assertThrows(IllegalArgumentException.class, () -> TEN.allocate(0));
    }
}
