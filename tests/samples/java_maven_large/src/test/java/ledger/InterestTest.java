package ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class InterestTest {
    private static final Money THOUSAND = Money.of(100_000, "EUR");

    @ParameterizedTest
    @CsvSource({"500, 1, 105000", "500, 3, 115000", "0, 10, 100000", "250, 2, 105000"})
    void simpleInterest(int basisPoints, int years, long expected) {
        assertEquals(Money.of(expected, "EUR"), Interest.simple(THOUSAND, basisPoints, years));
    }

    @ParameterizedTest
    @CsvSource({"500, 1, 105000", "500, 2, 110250", "500, 3, 115763", "1000, 0, 100000"})
    void compoundInterest(int basisPoints, int years, long expected) {
        assertEquals(Money.of(expected, "EUR"), Interest.compound(THOUSAND, basisPoints, years));
    }

    @Test
    void roundsHalfUpToTheCent() {
        assertEquals(Money.of(1_001, "EUR"), Interest.simple(Money.of(1_000, "EUR"), 5, 1));
    }

    @Test
    void refusesNegativeRates() {
        assertThrows(IllegalArgumentException.class, () -> Interest.compound(THOUSAND, -1, 1));
    }
}
