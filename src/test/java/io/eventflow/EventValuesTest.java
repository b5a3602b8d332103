package io.eventflow;

import java.math.BigDecimal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The conversions of EventValues that need no database: intervals, money and timestamps as the trigger logs them. */
class EventValuesTest {

    @Test
    void anIntervalIsTheIsoDurationPostgresWritesWithIntervalStyleIso8601() {
        // left: IntervalStyle postgres (as logged); right: what PostgreSQL writes for it with iso_8601
        String[][] pairs = {
            {"1 year 2 mons 3 days 04:05:06.789", "P1Y2M3DT4H5M6.789S"},
            {"-1 days -00:00:01", "P-1DT-1S"},
            {"00:00:00", "PT0S"},
            {"-2 years +03:00:00", "P-2YT3H"},
            {"00:01:30", "PT1M30S"},
            {"5 mons -3 days +01:00:00.5", "P5M-3DT1H0.5S"},
        };
        for (String[] pair : pairs) {
            assertEquals(pair[1], EventValues.Intervals.iso(pair[0]), pair[0]);
        }
    }

    @Test
    void anIntervalInMicrosecondsCountsAMonthAsDebeziumDoes() {
        assertEquals(37_091_106_789_000L, EventValues.Intervals.micros("1 year 2 mons 3 days 04:05:06.789"));
        assertEquals(-86_401_000_000L, EventValues.Intervals.micros("-1 days -00:00:01"));
    }

    @Test
    void aTimestampLoggedInUtcGetsItsZWithoutParsingAndTheSameTextAsParsed() {
        String[][] pairs = {
            {"\"2026-11-30T14:56:11.796913+00:00\"", "\"2026-11-30T14:56:11.796913Z\""},
            {"\"2026-11-30T14:56:11+00:00\"", "\"2026-11-30T14:56:11Z\""},
            {"\"0999-01-01T00:00:00.5+00:00\"", "\"0999-01-01T00:00:00.5Z\""},
        };
        for (String[] pair : pairs) {
            assertEquals(pair[1], EventValues.utcTimestamp(pair[0]), pair[0]);
            assertEquals(pair[1], EventValues.zonedTimestamp(pair[0]), pair[0]);
        }
        // other forms take the general path, which writes them in UTC
        for (String other : new String[] {"\"2026-11-30T09:56:11-05:00\"", "\"2026-11-30T14:56:11.+00:00\"", "\"12026-11-30T14:56:11+00:00\"",
                "\"2026-11-30 14:56:11+00:00\"", "\"infinity\"", "\"2026-11-30T14:56:11+00:30\""}) {
            assertNull(EventValues.utcTimestamp(other), other);
        }
        assertEquals("\"2026-11-30T14:56:11Z\"", EventValues.zonedTimestamp("\"2026-11-30T09:56:11-05:00\""));
    }

    @Test
    void moneyIsReadWhateverTheWritersLocaleWroteIt() {
        assertEquals(new BigDecimal("1234.56"), EventValues.money("$1,234.56"));
        assertEquals(new BigDecimal("-0.50"), EventValues.money("-$0.50"));
        assertEquals(new BigDecimal("1234.56"), EventValues.money("1.234,56 €"));
        assertEquals(new BigDecimal("-5.00"), EventValues.money("($5.00)"));
    }
}
