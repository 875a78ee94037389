package ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.LocalDate;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LedgerTest {
    private static final LocalDate DAY = LocalDate.of(2024, 3, 1);
    private Ledger ledger;

    @BeforeEach
    void openAccounts() {
        ledger = new Ledger();
        ledger.open("alice", "EUR").deposit(DAY, "opening", Money.of(10_000, "EUR"));
        ledger.open("bob", "EUR");
        ledger.open("carol", "USD");
    }

    @Test
    void transfersMoveMoneyBetweenAccounts() {
        ledger.transfer(DAY, "alice", "bob", Money.of(2_500, "EUR"));
        assertEquals(Money.of(7_500, "EUR"), ledger.get("alice").balance());
        assertEquals(Money.of(2_500, "EUR"), ledger.get("bob").balance());
    }

    @Test
    void transfersKeepTheTotal() {
        ledger.transfer(DAY, "alice", "bob", Money.of(2_500, "EUR"));
        assertEquals(Money.of(10_000, "EUR"), ledger.total("EUR"));
    }

    @Test
    void aRefusedTransferChangesNothing() {
        assertThrows(InsufficientFundsException.class, () -> ledger.transfer(DAY, "bob", "alice", Money.of(1, "EUR")));
        assertTrue(ledger.get("alice").entries().size() == 1 && ledger.get("bob").entries().isEmpty());
    }

    @Test
    void refusesTransfersAcrossCurrencies() {
        assertThrows(IllegalArgumentException.class, () -> ledger.transfer(DAY, "alice", "carol", Money.of(1, "EUR")));
        assertEquals(Money.of(10_000, "EUR"), ledger.get("alice").balance());
    }

    @Test
    void refusesTransfersToTheSameAccount() {
        assertThrows(IllegalArgumentException.class, () -> ledger.transfer(DAY, "alice", "alice", Money.of(1, "EUR")));
    }

    @Test
    void refusesUnknownAccounts() {
        assertThrows(IllegalArgumentException.class, () -> ledger.get("dave"));
        assertTrue(ledger.find("dave").isEmpty());
    }

    @Test
    void refusesToOpenAnAccountTwice() {
        assertThrows(IllegalArgumentException.class, () -> ledger.open("bob", "EUR"));
        assertEquals(3, ledger.size());
    }

    @Test
    void totalsOnlyCountTheirCurrency() {
        ledger.get("carol").deposit(DAY, "opening", Money.of(5_000, "USD"));
        assertEquals(Money.of(5_000, "USD"), ledger.total("USD"));
    }
}
