package ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CsvReaderTest {
    @Test
    void splitsPlainFields() {
        assertEquals(List.of("a", "b", "c"), CsvReader.split("a,b,c"));
    }

    @Test
    void keepsEmptyFields() {
        assertEquals(List.of("", "b", ""), CsvReader.split(",b,"));
    }

    @Test
    void unquotesFieldsWithCommas() {
        assertEquals(List.of("2024-01-01", "rent, January", "-900.00"), CsvReader.split("2024-01-01,\"rent, January\",-900.00"));
    }

    @Test
    void unescapesDoubledQuotes() {
        assertEquals(List.of("say \"hi\""), CsvReader.split("\"say \"\"hi\"\"\""));
    }

    @Test
    void refusesAnUnterminatedQuote() {
        assertThrows(IllegalArgumentException.class, () -> CsvReader.split("\"open,b"));
    }

    @Test
    void parsesAnEntry() {
        Entry entry = CsvReader.parse("2024-02-29,coffee,-3.50,EUR");
        assertEquals(new Entry(LocalDate.of(2024, 2, 29), "coffee", Money.of(-350, "EUR")), entry);
    }

    @ParameterizedTest
    @ValueSource(strings = {"2024-13-01,x,1.00,EUR", "2024-01-01,x,1.00", "2024-01-01,x,abc,EUR", "yesterday,x,1.00,EUR"})
    void refusesMalformedLines(String line) {
        assertThrows(IllegalArgumentException.class, () -> CsvReader.parse(line));
    }

    @Test
    void readsEveryLineAfterTheHeader() {
        String text = "date,description,amount,currency\r\n2024-01-01,a,1.00,EUR\n\n2024-01-02,\"b, c\",-2.00,EUR\n";
        List<Entry> entries = CsvReader.read(text);
        assertEquals(2, entries.size());
        assertEquals("b, c", entries.get(1).description());
    }
}
