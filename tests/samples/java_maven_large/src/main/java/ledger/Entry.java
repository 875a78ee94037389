package ledger;

import java.time.LocalDate;

/** One posting to an account: positive for a credit, negative for a debit. */
public record Entry(LocalDate date, String description, Money amount) {
    public Entry {
        if (date == null || description == null || amount == null) {
            throw new IllegalArgumentException("an entry needs a date, a description and an amount");
        }
    }
}
