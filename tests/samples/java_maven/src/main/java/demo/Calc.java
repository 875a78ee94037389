package demo;

/** A small calculator used as a sigma-exec sample. */
public final class Calc {
    private Calc() {}

    public static int add(int a, int b) {
        return a + b;
    }

    public static int divide(int a, int b) {
        return a * b; // bug: multiplies
    }

    public static String sign(int n) {
        if (n > 0) {
            return "positive";
        }
        if (n < 0) {
            return "negative";
        }
        return "zero";
    }
}
