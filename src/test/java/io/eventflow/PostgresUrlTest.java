package io.eventflow;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PostgresUrlTest {

    @Test
    void readsTheOriginalProjectsConnectionString() {
        PostgresUrl url = PostgresUrl.parse("postgresql://app:s%40cret@db.internal:6543/orders?sslmode=disable");
        assertEquals("db.internal", url.host());
        assertEquals(6543, url.port());
        assertEquals("orders", url.database());
        assertEquals("app", url.user());
        assertEquals("s@cret", url.password());
        assertEquals("jdbc:postgresql://db.internal:6543/orders?sslmode=disable", url.jdbcUrl());
    }

    @Test
    void acceptsThePostgresSchemeAndDefaults() {
        PostgresUrl url = PostgresUrl.parse("postgres://localhost");
        assertEquals(5432, url.port());
        assertEquals("postgres", url.user());
        assertEquals("postgres", url.database());
        assertNull(url.password());
    }

    @Test
    void neverShowsThePasswordInLogs() {
        assertTrue(!PostgresUrl.parse("postgresql://u:topsecret@h/db").toString().contains("topsecret"));
    }

    @Test
    void rejectsWhatIsNotAPostgresUri() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PostgresUrl.parse("mysql://h/db"));
        assertTrue(e.getMessage().contains("postgresql://"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PostgresUrl.parse(""));
        assertThrows(IllegalArgumentException.class, () -> PostgresUrl.parse("postgresql://h:notaport/db"));
    }
}
