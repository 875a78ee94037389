package ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class AccountTest {
    private static final LocalDate JAN = LocalDate.of(2024, 1, 15);
    private static final LocalDate FEB = LocalDate.of(2024, 2, 15);
    private Account account;

    @BeforeEach
    void openAccount() {
        account = new Account("checking", "EUR", Money.of(10_000, "EUR"));
    }

    @Test
    void startsEmpty() {
        assertEquals(Money.zero("EUR"), account.balance());
    }

    @Test
    void depositsRaiseTheBalance() {
        account.deposit(JAN, "salary", Money.of(250_000, "EUR"));
        assertEquals(Money.of(250_000, "EUR"), account.balance());
    }

    @Test
    void withdrawalsMayUseTheOverdraft() {
        account.withdraw(JAN, "rent", Money.of(8_000, "EUR"));
        assertEquals(Money.of(-8_000, "EUR"), account.balance());
        assertEquals(Money.of(2_000, "EUR"), account.available());
    }

    @Test
    void withdrawalsBeyondTheOverdraftAreRefused() {
        assertThrows(InsufficientFundsException.class, () -> account.withdraw(JAN, "car", Money.of(10_001, "EUR")));
        assertEquals(List.of(), account.entries());
    }

    @Test
    void refusesZeroAndNegativeAmounts() {
        assertThrows(IllegalArgumentException.class, () -> account.deposit(JAN, "nothing", Money.zero("EUR")));
        assertThrows(IllegalArgumentException.class, () -> account.deposit(JAN, "minus", Money.of(-1, "EUR")));
    }

    @Test
    void refusesAnotherCurrency() {
        assertThrows(IllegalArgumentException.class, () -> account.deposit(JAN, "usd", Money.of(1, "USD")));
    }

    @Test
    void entriesCannotBeModifiedFromOutside() {
        account.deposit(JAN, "gift", Money.of(100, "EUR"));
        assertThrows(UnsupportedOperationException.class, () -> account.entries().clear());
    }

    @Test
    void anAccountNeedsAName() {
        assertThrows(IllegalArgumentException.class, () -> new Account(" ", "EUR"));
    }

    @Disabled("statements in other currencies are not supported yet")
    @Test
    void convertsStatementsToAnotherCurrency() {
    }

    @Nested
    class Statements {
        @BeforeEach
        void post() {
            account.deposit(JAN, "salary", Money.of(200_000, "EUR"));
            account.withdraw(FEB, "rent", Money.of(90_000, "EUR"));
        }

        @Test
        void selectEntriesWithinTheRange() {
            List<Entry> january = account.statement(LocalDate.of(2024, 1, 1), LocalDate.of(2024, 1, 31));
            assertEquals(1, january.size());
            assertEquals("salary", january.get(0).description());
        }

        @Test
        void includeBothEnds() {
            assertEquals(2, account.statement(JAN, FEB).size());
        }
    }
}
