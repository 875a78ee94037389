package ledger;

import java.util.Objects;

/** An amount of one currency, held in minor units (cents), immutable. */
public final class Money implements Comparable<Money> {
    private final long cents;
    private final String currency;

    private Money(long cents, String currency) {
        if (currency == null || !currency.matches("[A-Z]{3}")) {
            throw new IllegalArgumentException("currency must be a three-letter ISO code: " + currency);
        }
        this.cents = cents;
        this.currency = currency;
    }

    public static Money of(long cents, String currency) {
        return new Money(cents, currency);
    }

    /** Parses "12.34 EUR" or "-0.50 USD". */
    public static Money parse(String text) {
        String[] parts = text.trim().split("\\s+");
        if (parts.length != 2) {
            throw new IllegalArgumentException("expected '<amount> <currency>': " + text);
        }
        String amount = parts[0];
        boolean negative = amount.startsWith("-");
        if (negative) {
            amount = amount.substring(1);
        }
        String[] units = amount.split("\\.", -1);
        if (units.length > 2 || units[0].isEmpty() || units.length == 2 && units[1].length() != 2) {
            throw new IllegalArgumentException("not an amount with two decimals: " + parts[0]);
        }
        long value = Long.parseLong(units[0]) * 100 + (units.length == 2 ? Long.parseLong(units[1]) : 0);
        return new Money(negative ? -value : value, parts[1]);
    }

    public static Money zero(String currency) {
        return new Money(0, currency);
    }

    public long cents() {
        return cents;
    }

    public String currency() {
        return currency;
    }

    public Money plus(Money other) {
        requireSameCurrency(other);
        return new Money(Math.addExact(cents, other.cents), currency);
    }

    public Money minus(Money other) {
        requireSameCurrency(other);
        return new Money(Math.subtractExact(cents, other.cents), currency);
    }

    public Money times(long factor) {
        return new Money(Math.multiplyExact(cents, factor), currency);
    }

    public Money negate() {
        return new Money(-cents, currency);
    }

    public boolean isNegative() {
        return cents < 0;
    }

    public boolean isZero() {
        return cents == 0;
    }

    /** Splits into `parts` amounts that differ by at most one cent and sum to this amount. */
    public Money[] allocate(int parts) {
        if (parts <= 0) {
            throw new IllegalArgumentException("parts must be positive: " + parts);
        }
        Money[] shares = new Money[parts];
        long base = cents / parts;
        long remainder = cents % parts;
        for (int i = 0; i < parts; i++) {
            shares[i] = new Money(base, currency);
        }
        return shares;
    }

    private void requireSameCurrency(Money other) {
        if (!currency.equals(other.currency)) {
            throw new IllegalArgumentException("currency mismatch: " + currency + " and " + other.currency);
        }
    }

    @Override
    public int compareTo(Money other) {
        requireSameCurrency(other);
        return Long.compare(cents, other.cents);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Money m && m.cents == cents && m.currency.equals(currency);
    }

    @Override
    public int hashCode() {
        return Objects.hash(cents, currency);
    }

    @Override
    public String toString() {
        long abs = Math.abs(cents);
        return (cents < 0 ? "-" : "") + abs / 100 + "." + String.format("%02d", abs % 100) + " " + currency;
    }
}
