package io.eventflow;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import io.eventflow.support.EventConsumer.Received;
import io.eventflow.support.EventFlowTestSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Change ids are taken when a row is written, not when the transaction commits: a reader that
 * remembered "published up to id N" would skip a transaction that took N-1 and committed later.
 */
class LateCommitIT extends EventFlowTestSupport {

    @BeforeEach
    void clear() {
        consumer.clear();
    }

    @Test
    void aTransactionThatTookItsIdFirstAndCommittedLastIsNotSkipped() throws Exception {
        try (Connection t1 = db(); Connection t2 = db(); Statement s1 = t1.createStatement(); Statement s2 = t2.createStatement()) {
            t1.setAutoCommit(false);
            s1.executeUpdate("INSERT INTO eventflow_demo.users (name, email) VALUES ('early-id', 'early@example.com')");

            s2.executeUpdate("INSERT INTO eventflow_demo.users (name, email) VALUES ('late-id', 'late@example.com')");
            // T2's change is published while T1 is still open: the pipeline has moved past T2
            await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 1);

            t1.commit();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 2);
        List<Received> events = consumer.received();
        assertEquals("late-id", events.get(0).json().at("/after/name").asText());
        assertEquals("early-id", events.get(1).json().at("/after/name").asText());
        assertEquals(2, consumer.distinctCount());
    }

    @Test
    void changesToOneRowKeepTheirCommitOrderWhateverTheTransactionIds() throws Exception {
        long row = insertUser("v0", "row@example.com");
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 1);
        consumer.clear();

        try (Connection open = db(); Connection a = db(); Connection b = db();
                Statement so = open.createStatement(); Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
            // a transaction that stays open across everything keeps the snapshot's xmin low
            open.setAutoCommit(false);
            so.executeUpdate("INSERT INTO eventflow_demo.users (name, email) VALUES ('holder', 'holder@example.com')");
            // A takes the lower transaction id ...
            a.setAutoCommit(false);
            sa.executeUpdate("INSERT INTO eventflow_demo.users (name, email) VALUES ('a-other', 'a-other@example.com')");
            // ... B, with the higher id, changes the row and commits first ...
            sb.executeUpdate("UPDATE eventflow_demo.users SET name = 'v1-by-b' WHERE id = " + row);
            // ... then A changes the same row and commits
            sa.executeUpdate("UPDATE eventflow_demo.users SET name = 'v2-by-a' WHERE id = " + row);
            a.commit();
            open.commit();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> consumer.count() == 4);
        List<String> rowVersions = consumer.received().stream()
                .filter(r -> r.json().at("/after/id").asLong() == row)
                .map(r -> r.json().at("/after/name").asText())
                .toList();
        assertEquals(List.of("v1-by-b", "v2-by-a"), rowVersions);
    }
}
