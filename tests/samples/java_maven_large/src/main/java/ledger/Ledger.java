package ledger;

import java.time.LocalDate;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** A set of named accounts and the transfers between them. */
public final class Ledger {
    private final Map<String, Account> accounts = new LinkedHashMap<>();

    public Account open(String name, String currency) {
        return open(new Account(name, currency));
    }

    public Account open(Account account) {
        if (accounts.putIfAbsent(account.name(), account) != null) {
            throw new IllegalArgumentException("account already open: " + account.name());
        }
        return account;
    }

    public Optional<Account> find(String name) {
        return Optional.ofNullable(accounts.get(name));
    }

    public Account get(String name) {
        return find(name).orElseThrow(() -> new IllegalArgumentException("no such account: " + name));
    }

    /** Moves `amount` from one account to another, both or neither. */
    public void transfer(LocalDate date, String from, String to, Money amount) {
        if (from.equals(to)) {
            throw new IllegalArgumentException("cannot transfer to the same account: " + from);
        }
        Account source = get(from);
        Account target = get(to);
        if (!target.currency().equals(amount.currency())) {
            throw new IllegalArgumentException(to + " holds " + target.currency() + ", not " + amount.currency());
        }
        source.withdraw(date, "transfer to " + to, amount);
        target.deposit(date, "transfer from " + from, amount);
    }

    /** The sum of every account's balance in `currency`. */
    public Money total(String currency) {
        Money total = Money.zero(currency);
        for (Account account : accounts.values()) {
            if (account.currency().equals(currency)) {
                total = total.plus(account.balance());
            }
        }
        return total;
    }

    public int size() {
        return accounts.size();
    }
}
