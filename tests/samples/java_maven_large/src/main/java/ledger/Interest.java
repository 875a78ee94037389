package ledger;

/** Interest on a balance, rounded half-up to the cent; rates in basis points (1% = 100 bp). */
public final class Interest {
    private Interest() {}

    public static Money simple(Money principal, int basisPoints, int years) {
        requireValid(basisPoints, years);
        return principal.plus(Money.of(roundedShare(principal.cents() * years, basisPoints), principal.currency()));
    }

    public static Money compound(Money principal, int basisPoints, int years) {
        requireValid(basisPoints, years);
        Money balance = principal;
        for (int year = 0; year < years; year++) {
            balance = balance.plus(Money.of(roundedShare(balance.cents(), basisPoints), principal.currency()));
        }
        return balance;
    }

    private static long roundedShare(long cents, int basisPoints) {
        long scaled = cents * basisPoints;
        return scaled >= 0 ? (scaled + 5_000) / 10_000 : -((-scaled + 5_000) / 10_000);
    }

    private static void requireValid(int basisPoints, int years) {
        if (basisPoints < 0 || years < 0) {
            throw new IllegalArgumentException("rate and years must not be negative");
        }
    }
}
