package ledger;

import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/** Reads "date,description,amount,currency" lines (RFC 4180 quoting) into entries. */
public final class CsvReader {
    private CsvReader() {}

    public static List<String> split(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == '"' && field.length() == 0) {
                quoted = true;
            } else if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        if (quoted) {
            throw new IllegalArgumentException("unterminated quote: " + line);
        }
        fields.add(field.toString());
        return fields;
    }

    public static Entry parse(String line) {
        List<String> fields = split(line);
        if (fields.size() != 4) {
            throw new IllegalArgumentException("expected 4 fields, got " + fields.size() + ": " + line);
        }
        try {
            LocalDate date = LocalDate.parse(fields.get(0).trim());
            return new Entry(date, fields.get(1), Money.parse(fields.get(2).trim() + " " + fields.get(3).trim()));
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("bad date: " + fields.get(0), e);
        }
    }

    /** Every non-blank line after the header. */
    public static List<Entry> read(String text) {
        List<Entry> entries = new ArrayList<>();
        String[] lines = text.split("\r?\n");
        for (int i = 1; i < lines.length; i++) {
            if (!lines[i].isBlank()) {
                entries.add(parse(lines[i]));
            }
        }
        return entries;
    }
}
