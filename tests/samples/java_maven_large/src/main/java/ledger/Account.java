package ledger;

import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** An account in one currency with an optional overdraft limit; its balance is the sum of its entries. */
public final class Account {
    private final String name;
    private final String currency;
    private final Money overdraft;
    private final List<Entry> entries = new ArrayList<>();

    public Account(String name, String currency) {
        this(name, currency, Money.zero(currency));
    }

    public Account(String name, String currency, Money overdraft) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("an account needs a name");
        }
        if (overdraft.isNegative() || !overdraft.currency().equals(currency)) {
            throw new IllegalArgumentException("overdraft must be a non-negative amount in " + currency);
        }
        this.name = name;
        this.currency = currency;
        this.overdraft = overdraft;
    }

    public String name() {
        return name;
    }

    public String currency() {
        return currency;
    }

    public Money balance() {
        Money total = Money.zero(currency);
        for (Entry entry : entries) {
            total = total.plus(entry.amount());
        }
        return total;
    }

    /** What can still be withdrawn: the balance plus the overdraft. */
    public Money available() {
        return balance().plus(overdraft);
    }

    public void deposit(LocalDate date, String description, Money amount) {
        requirePositive(amount);
        entries.add(new Entry(date, description, amount));
    }

    public void withdraw(LocalDate date, String description, Money amount) {
        requirePositive(amount);
        if (available().compareTo(amount) < 0) {
            throw new InsufficientFundsException(name, amount, available());
        }
        entries.add(new Entry(date, description, amount.negate()));
    }

    public List<Entry> entries() {
        return Collections.unmodifiableList(entries);
    }

    /** The entries dated within [from, to], in the order they were posted. */
    public List<Entry> statement(LocalDate from, LocalDate to) {
        List<Entry> selected = new ArrayList<>();
        for (Entry entry : entries) {
            if (!entry.date().isBefore(from) && !entry.date().isAfter(to)) {
                selected.add(entry);
            }
        }
        return selected;
    }

    private void requirePositive(Money amount) {
        if (!amount.currency().equals(currency)) {
            throw new IllegalArgumentException(name + " holds " + currency + ", not " + amount.currency());
        }
        if (amount.isNegative() || amount.isZero()) {
            throw new IllegalArgumentException("amount must be positive: " + amount);
        }
    }
}
