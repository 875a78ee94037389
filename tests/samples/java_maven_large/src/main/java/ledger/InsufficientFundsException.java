package ledger;

/** A withdrawal or transfer would take an account below its overdraft limit. */
public final class InsufficientFundsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public InsufficientFundsException(String account, Money requested, Money available) {
        super(account + ": requested " + requested + ", available " + available);
    }
}
